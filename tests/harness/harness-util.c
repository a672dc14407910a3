/* Small helpers of the test harness: a clock, socket connections, tree removal, limits. */
#include "harness-util.h"

#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

uint64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

int socket_connect(const char *path)
{
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    int fd;

    if (strlen(path) >= sizeof(a.sun_path))
        return -1;
    fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    memcpy(a.sun_path, path, strlen(path) + 1);
    if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* The first failure of a walk; nftw's callback has no user pointer. */
static int remove_error;

static int remove_one(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
    (void)st;
    (void)type;
    (void)ftw;
    /* Depth-first (FTW_DEPTH): a directory comes after its contents. One that could not be
     * read (FTW_DNR) is still tried: remove() tells whether it was empty. */
    if (remove(path) < 0 && errno != ENOENT && remove_error == 0)
        remove_error = errno;
    return 0;
}

int remove_tree(const char *path)
{
    remove_error = 0;
    /* FTW_PHYS: links are not followed; 16 descriptors at most for the walk. */
    if (nftw(path, remove_one, 16, FTW_DEPTH | FTW_PHYS) < 0 && errno != ENOENT)
        return -1;
    if (remove_error != 0) {
        errno = remove_error;
        return -1;
    }
    return 0;
}

void raise_nofile(void)
{
    struct rlimit rl;

    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}
