//===----------------------------------------------------------------------===//
//
// This source file is part of the snmpwarden open source project
// SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//

// The Linux calls of the gateway's own datagram loop (epoll, eventfd, recvmmsg, sendmmsg), which
// Swift's Glibc module does not declare: epoll and eventfd are Linux-only headers, and the
// multiple-message calls are behind _GNU_SOURCE. The wrappers take plain types, so Swift never
// needs the layout of the (packed, on x86-64) `struct epoll_event`.

#ifndef C_DATAGRAM_IO_H
#define C_DATAGRAM_IO_H

#include <stdint.h>
#include <sys/socket.h>

#define CDIO_EPOLLIN 0x001u
#define CDIO_EPOLLOUT 0x004u
#define CDIO_EPOLLERR 0x008u
#define CDIO_EPOLLHUP 0x010u

#define CDIO_EPOLL_CTL_ADD 1
#define CDIO_EPOLL_CTL_DEL 2
#define CDIO_EPOLL_CTL_MOD 3

/// One message of a vector read or write: `struct mmsghdr`.
typedef struct {
    struct msghdr header;
    unsigned int length;
} cdio_mmsghdr;

/// An epoll instance (close-on-exec), or -1 with errno.
int cdio_epoll_create(void);

/// epoll_ctl with `events` and `token` as the event's data; 0 or -1 with errno.
int cdio_epoll_ctl(int epoll, int operation, int fd, uint32_t events, uint64_t token);

/// epoll_wait, the ready events split into `tokens` and `events` (each `capacity` long): the
/// number of ready events, or -1 with errno.
int cdio_epoll_wait(int epoll, uint64_t *tokens, uint32_t *events, int capacity, int timeoutMilliseconds);

/// A non-blocking, close-on-exec eventfd, or -1 with errno.
int cdio_eventfd(void);

/// recvmmsg without a timeout, non-blocking.
int cdio_recvmmsg(int fd, cdio_mmsghdr *messages, unsigned int count);

/// sendmmsg, non-blocking.
int cdio_sendmmsg(int fd, cdio_mmsghdr *messages, unsigned int count);

/// The CPUs this process may run on (sched_getaffinity: taskset, systemd's CPUAffinity=, a
/// cpuset), or -1.
int cdio_available_cpus(void);

/// Names the calling thread (for `top -H` and profilers; at most 15 characters are kept).
void cdio_set_thread_name(const char *name);

#endif
