/*
 * The floor of a proxied request, measured in the same run as the gateway by scripts/bench-peers.sh.
 *
 *   udp-relay LISTEN-ADDRESS PORT                      echo: each GetRequest comes back as a Response
 *   udp-relay LISTEN-ADDRESS PORT AGENT-ADDRESS PORT   relay: datagrams go to the agent and back
 *
 * Echo mode turns the PDU tag 0xA0 of a v1/v2c GetRequest into 0xA2 and sends the datagram back:
 * what the kernel and this host charge for one datagram in and one out. Relay mode is the least a
 * UDP proxy can do: each manager address gets its own socket towards the agent, and whatever
 * comes back on it goes to that manager, bytes unchanged (no SNMP, no security, no policy). Both
 * use the calls the gateway's data path makes: epoll_wait, recvmmsg of up to 64 datagrams, at most
 * 4 reads per socket per wakeup, one sendmmsg per socket. So the gateway's CPU per request and
 * added latency can be set against a floor measured on the same host at the same minute.
 *
 *   cc -O2 -o udp-relay scripts/udp-relay.c
 *
 * Runs until killed. Nothing in the test suite uses it.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

enum { SLOTS = 64, SIZE = 65536, CLIENTS = 1024, READS = 4 };

static unsigned char buffers[SLOTS][SIZE];
static struct sockaddr_in sources[SLOTS];
static struct iovec vectors[SLOTS];
static struct mmsghdr in[SLOTS], out[SLOTS];

static struct {
    struct sockaddr_in address;
    int fd;
} clients[CLIENTS];
static int client_count;

/* Reads a BER header at p (tag, length); returns the offset of the contents or -1. */
static long header(const unsigned char *p, long size, long at, long *length) {
    if (at + 2 > size) return -1;
    unsigned char first = p[at + 1];
    if (first < 0x80) {
        *length = first;
        return at + 2;
    }
    int count = first & 0x7f;
    if (count == 0 || count > 4 || at + 2 + count > size) return -1;
    long value = 0;
    for (int i = 0; i < count; i++) value = (value << 8) | p[at + 2 + i];
    *length = value;
    return at + 2 + count;
}

/* The offset of the PDU tag in a v1/v2c message, or -1. */
static long pdu_tag(const unsigned char *p, long size) {
    long length;
    long at = header(p, size, 0, &length);
    if (at < 0 || p[0] != 0x30) return -1;
    long inner = header(p, size, at, &length);
    if (inner < 0 || p[at] != 0x02) return -1;
    at = inner + length;
    inner = header(p, size, at, &length);
    if (inner < 0 || p[at] != 0x04) return -1;
    at = inner + length;
    return at < size ? at : -1;
}

static int parse(const char *host, const char *port, struct sockaddr_in *address) {
    *address = (struct sockaddr_in){.sin_family = AF_INET, .sin_port = htons((unsigned short)atoi(port))};
    if (inet_pton(AF_INET, host, &address->sin_addr) == 1) return 0;
    fprintf(stderr, "udp-relay: not an IPv4 address: %s\n", host);
    return -1;
}

/* Receives up to SLOTS datagrams from fd into the shared buffers. */
static int receive(int fd) {
    for (int i = 0; i < SLOTS; i++) {
        vectors[i] = (struct iovec){.iov_base = buffers[i], .iov_len = SIZE};
        in[i].msg_hdr = (struct msghdr){
            .msg_name = &sources[i], .msg_namelen = sizeof sources[i], .msg_iov = &vectors[i], .msg_iovlen = 1};
    }
    return recvmmsg(fd, in, SLOTS, 0, NULL);
}

static void send_all(int fd, struct mmsghdr *messages, int count) {
    for (int sent = 0; sent < count;) {
        int n = sendmmsg(fd, messages + sent, (unsigned)(count - sent), 0);
        if (n <= 0) return; /* a full buffer drops the rest, as UDP may */
        sent += n;
    }
}

/* The client's index, with its own socket connected to the agent, or -1 when the table is full. */
static int client(const struct sockaddr_in *address, const struct sockaddr_in *agent, int epoll) {
    for (int i = 0; i < client_count; i++) {
        if (clients[i].address.sin_port == address->sin_port &&
            clients[i].address.sin_addr.s_addr == address->sin_addr.s_addr)
            return i;
    }
    if (client_count == CLIENTS) return -1;
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
    if (fd < 0 || connect(fd, (const struct sockaddr *)agent, sizeof *agent) != 0) {
        perror("udp-relay: agent socket");
        if (fd >= 0) close(fd);
        return -1;
    }
    struct epoll_event wanted = {.events = EPOLLIN, .data.u32 = (unsigned)client_count + 1};
    epoll_ctl(epoll, EPOLL_CTL_ADD, fd, &wanted);
    clients[client_count].address = *address;
    clients[client_count].fd = fd;
    return client_count++;
}

int main(int argc, char **argv) {
    struct sockaddr_in listen_address, agent;
    int relay = argc == 5;
    if ((argc != 3 && argc != 5) || parse(argv[1], argv[2], &listen_address) != 0 ||
        (relay && parse(argv[3], argv[4], &agent) != 0)) {
        fprintf(stderr, "usage: %s LISTEN-ADDRESS PORT [AGENT-ADDRESS PORT]\n", argv[0]);
        return 2;
    }
    int front = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
    if (front < 0 || bind(front, (struct sockaddr *)&listen_address, sizeof listen_address) != 0) {
        perror("udp-relay: bind");
        return 1;
    }
    int epoll = epoll_create1(0);
    struct epoll_event wanted = {.events = EPOLLIN, .data.u32 = 0};
    if (epoll < 0 || epoll_ctl(epoll, EPOLL_CTL_ADD, front, &wanted) != 0) {
        perror("udp-relay: epoll");
        return 1;
    }
    printf("listening on %s:%s\n", argv[1], argv[2]);
    fflush(stdout);
    struct epoll_event events[64];
    static int order[SLOTS];
    for (;;) {
        int ready = epoll_wait(epoll, events, 64, -1);
        for (int e = 0; e < ready; e++) {
            unsigned token = events[e].data.u32;
            for (int round = 0; round < READS; round++) {
                int fd = token == 0 ? front : clients[token - 1].fd;
                int count = receive(fd);
                if (count <= 0) break;
                if (token != 0) {
                    /* From the agent: back to the manager this socket belongs to. */
                    for (int i = 0; i < count; i++) {
                        vectors[i].iov_len = in[i].msg_len;
                        out[i].msg_hdr = (struct msghdr){
                            .msg_name = &clients[token - 1].address, .msg_namelen = sizeof(struct sockaddr_in),
                            .msg_iov = &vectors[i], .msg_iovlen = 1};
                    }
                    send_all(front, out, count);
                } else if (!relay) {
                    int answers = 0;
                    for (int i = 0; i < count; i++) {
                        long tag = pdu_tag(buffers[i], in[i].msg_len);
                        if (tag < 0 || buffers[i][tag] != 0xA0) continue;
                        buffers[i][tag] = 0xA2;
                        vectors[i].iov_len = in[i].msg_len;
                        out[answers++].msg_hdr = (struct msghdr){
                            .msg_name = &sources[i], .msg_namelen = in[i].msg_hdr.msg_namelen,
                            .msg_iov = &vectors[i], .msg_iovlen = 1};
                    }
                    send_all(front, out, answers);
                } else {
                    /* From managers: one sendmmsg per manager's socket towards the agent. */
                    for (int i = 0; i < count; i++) order[i] = client(&sources[i], &agent, epoll);
                    for (int i = 0; i < count; i++) {
                        if (order[i] < 0) continue;
                        int owner = order[i], batch = 0;
                        for (int j = i; j < count; j++) {
                            if (order[j] != owner) continue;
                            vectors[j].iov_len = in[j].msg_len;
                            out[batch++].msg_hdr = (struct msghdr){.msg_iov = &vectors[j], .msg_iovlen = 1};
                            order[j] = -1;
                        }
                        send_all(clients[owner].fd, out, batch);
                    }
                }
                if (count < SLOTS) break;
            }
        }
    }
}
