/*
 * Plain UDP relay: the baseline that pysfu's forwarding cost is compared against.
 *
 * No crypto and no RTP logic. A datagram "SUB" + 4-byte room number registers its source
 * address as a subscriber of that room. Any other datagram is sent unchanged to every
 * subscriber of room (SSRC >> 16), the SSRC being bytes 8..11 of an RTP header, which is how
 * the bench bots number their streams. Blocking recvfrom/sendto on one socket, one thread.
 *
 * Usage: forwarder PORT   (binds 127.0.0.1:PORT; PORT 0 picks one). It prints the bound port
 * on stdout, then runs until SIGTERM or SIGINT, and prints "received N sent M" before exiting.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_ROOMS 4096
#define MAX_SUBSCRIBERS 256
#define BUFFER_SIZE 2048

struct room {
    int count;
    struct sockaddr_in subscribers[MAX_SUBSCRIBERS];
};

static struct room rooms[MAX_ROOMS];
static volatile sig_atomic_t stopping = 0;

static void on_signal(int signal_number) {
    (void)signal_number;
    stopping = 1;
}

static void subscribe(uint32_t room_number, const struct sockaddr_in *address) {
    if (room_number >= MAX_ROOMS) return;
    struct room *room = &rooms[room_number];
    for (int i = 0; i < room->count; i++) {
        if (room->subscribers[i].sin_port == address->sin_port &&
            room->subscribers[i].sin_addr.s_addr == address->sin_addr.s_addr)
            return;
    }
    if (room->count < MAX_SUBSCRIBERS) room->subscribers[room->count++] = *address;
}

int main(int argc, char **argv) {
    int port = argc > 1 ? atoi(argv[1]) : 0;
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    if (fd < 0) { perror("socket"); return 1; }
    int buffer = 8 * 1024 * 1024;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buffer, sizeof buffer);
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &buffer, sizeof buffer);
    struct sockaddr_in local = {0};
    local.sin_family = AF_INET;
    local.sin_port = htons((uint16_t)port);
    local.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(fd, (struct sockaddr *)&local, sizeof local) < 0) { perror("bind"); return 1; }
    socklen_t length = sizeof local;
    getsockname(fd, (struct sockaddr *)&local, &length);
    printf("%d\n", ntohs(local.sin_port));
    fflush(stdout);

    /* No SA_RESTART, so a signal interrupts the blocking recvfrom. */
    struct sigaction action = {0};
    action.sa_handler = on_signal;
    sigaction(SIGTERM, &action, NULL);
    sigaction(SIGINT, &action, NULL);

    unsigned char data[BUFFER_SIZE];
    unsigned long long received = 0, sent = 0;
    while (!stopping) {
        struct sockaddr_in source;
        socklen_t source_length = sizeof source;
        ssize_t size = recvfrom(fd, data, sizeof data, 0, (struct sockaddr *)&source, &source_length);
        if (size < 0) {
            if (errno == EINTR) continue;
            perror("recvfrom");
            break;
        }
        received++;
        if (size == 7 && memcmp(data, "SUB", 3) == 0) {
            uint32_t room_number = ((uint32_t)data[3] << 24) | ((uint32_t)data[4] << 16) |
                                   ((uint32_t)data[5] << 8) | data[6];
            subscribe(room_number, &source);
            continue;
        }
        if (size < 12) continue;
        uint32_t room_number = ((uint32_t)data[8] << 8) | data[9];
        if (room_number >= MAX_ROOMS) continue;
        struct room *room = &rooms[room_number];
        for (int i = 0; i < room->count; i++) {
            if (sendto(fd, data, (size_t)size, 0, (struct sockaddr *)&room->subscribers[i],
                       sizeof room->subscribers[i]) == size)
                sent++;
        }
    }
    printf("received %llu sent %llu\n", received, sent);
    return 0;
}
