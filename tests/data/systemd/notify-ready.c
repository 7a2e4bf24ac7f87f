/* sd_notify for the tests' busybox containers: sends its argument as one datagram to $NOTIFY_SOCKET. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>

int main(int argc, char **argv) {
    const char *path = getenv("NOTIFY_SOCKET");
    if (argc != 2 || path == NULL || strlen(path) >= sizeof(((struct sockaddr_un *)0)->sun_path)) {
        fprintf(stderr, "usage: NOTIFY_SOCKET=PATH notify-ready 'READY=1'\n");
        return 2;
    }
    struct sockaddr_un address = {.sun_family = AF_UNIX};
    strcpy(address.sun_path, path);
    int sock = socket(AF_UNIX, SOCK_DGRAM, 0);
    if (sock < 0 || sendto(sock, argv[1], strlen(argv[1]), 0, (struct sockaddr *)&address, sizeof address) < 0) {
        perror("notify");
        return 1;
    }
    return 0;
}
