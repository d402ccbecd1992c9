//===----------------------------------------------------------------------===//
//
// This source file is part of the snmpwarden open source project
// SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//

#define _GNU_SOURCE
#include "CDatagramIO.h"

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <pthread.h>
#include <sched.h>
#include <string.h>
#include <sys/socket.h>

_Static_assert(sizeof(cdio_mmsghdr) == sizeof(struct mmsghdr), "struct mmsghdr layout");
_Static_assert(EPOLLIN == CDIO_EPOLLIN && EPOLLOUT == CDIO_EPOLLOUT, "epoll constants");
_Static_assert(EPOLLERR == CDIO_EPOLLERR && EPOLLHUP == CDIO_EPOLLHUP, "epoll constants");
_Static_assert(EPOLL_CTL_ADD == CDIO_EPOLL_CTL_ADD && EPOLL_CTL_DEL == CDIO_EPOLL_CTL_DEL, "epoll constants");
_Static_assert(EPOLL_CTL_MOD == CDIO_EPOLL_CTL_MOD, "epoll constants");

int cdio_epoll_create(void) { return epoll_create1(EPOLL_CLOEXEC); }

int cdio_epoll_ctl(int epoll, int operation, int fd, uint32_t events, uint64_t token) {
    struct epoll_event event = {.events = events, .data.u64 = token};
    return epoll_ctl(epoll, operation, fd, &event);
}

int cdio_epoll_wait(int epoll, uint64_t *tokens, uint32_t *events, int capacity, int timeoutMilliseconds) {
    struct epoll_event ready[64];
    if (capacity > 64) capacity = 64;
    int count = epoll_wait(epoll, ready, capacity, timeoutMilliseconds);
    for (int index = 0; index < count; index++) {
        tokens[index] = ready[index].data.u64;
        events[index] = ready[index].events;
    }
    return count;
}

int cdio_eventfd(void) { return eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC); }

int cdio_recvmmsg(int fd, cdio_mmsghdr *messages, unsigned int count) {
    return recvmmsg(fd, (struct mmsghdr *)messages, count, MSG_DONTWAIT, 0);
}

int cdio_sendmmsg(int fd, cdio_mmsghdr *messages, unsigned int count) {
    return sendmmsg(fd, (struct mmsghdr *)messages, count, MSG_DONTWAIT);
}

void cdio_set_thread_name(const char *name) {
    char truncated[16];
    strncpy(truncated, name, sizeof(truncated) - 1);
    truncated[sizeof(truncated) - 1] = 0;
    pthread_setname_np(pthread_self(), truncated);
}

int cdio_available_cpus(void) {
    cpu_set_t set;
    CPU_ZERO(&set);
    if (sched_getaffinity(0, sizeof(set), &set) != 0) return -1;
    return CPU_COUNT(&set);
}
