/* A socket-activated service for the tests: accepts connections on the listening socket it was
 * handed as fd 3 and answers each with the LISTEN_ variables it was started with. */
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

static const char *variable(const char *name) {
    const char *value = getenv(name);
    return value ? value : "";
}

int main(void) {
    char reply[256];
    for (int served = 0; served < 1000; served++) {
        int conn = accept(3, NULL, NULL);
        if (conn < 0) {
            perror("accept on fd 3");
            return 1;
        }
        int n = snprintf(reply, sizeof reply, "served from fd 3: LISTEN_FDS=%s LISTEN_PID=%s pid=%d\n",
                         variable("LISTEN_FDS"), variable("LISTEN_PID"), (int)getpid());
        if (write(conn, reply, n) != n)
            perror("write");
        close(conn);
    }
    pause();
    return 0;
}
