/* Copies of test programs that an unprivileged user can execute. */
#include "reachable.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_COPIES 8

static struct {
    char from[512];
    char to[600];
} copies[MAX_COPIES];
static int ncopies;
static char dir[64];

static void remove_copies(void)
{
    for (int i = 0; i < ncopies; i++)
        unlink(copies[i].to);
    if (dir[0])
        rmdir(dir);
}

static int copy_file(const char *from, const char *to)
{
    char buf[65536];
    ssize_t n = 0;
    int in = open(from, O_RDONLY | O_CLOEXEC), out, ok = 1;

    if (in < 0)
        return -1;
    out = open(to, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0755);
    if (out < 0) {
        close(in);
        return -1;
    }
    while (ok && (n = read(in, buf, sizeof(buf))) > 0)
        ok = write(out, buf, (size_t)n) == n;
    close(in);
    ok = ok && n == 0 && fchmod(out, 0755) == 0;
    return close(out) == 0 && ok ? 0 : -1;
}

const char *reachable_copy(const char *exe)
{
    const char *base;

    if (!exe || geteuid() != 0)
        return exe;
    for (int i = 0; i < ncopies; i++)
        if (strcmp(copies[i].from, exe) == 0)
            return copies[i].to;
    if (ncopies == MAX_COPIES || strlen(exe) >= sizeof(copies[0].from))
        return exe;
    if (!dir[0]) {
        snprintf(dir, sizeof(dir), "/tmp/agnocast-exe-XXXXXX");
        if (!mkdtemp(dir) || chmod(dir, 0755) < 0) {
            dir[0] = '\0';
            return exe;
        }
        atexit(remove_copies);
    }
    base = strrchr(exe, '/') ? strrchr(exe, '/') + 1 : exe;
    snprintf(copies[ncopies].to, sizeof(copies[0].to), "%s/%s", dir, base);
    if (copy_file(exe, copies[ncopies].to) < 0)
        return exe;
    snprintf(copies[ncopies].from, sizeof(copies[0].from), "%s", exe);
    return copies[ncopies++].to;
}
