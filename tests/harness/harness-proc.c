/* What a test sees of other processes from outside: output, /proc, shm and mqueue names. */
#include "harness-proc.h"

#include <errno.h>
#include <fcntl.h>
#include <mqueue.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "shm-layout.h"

int run_capture(char *const argv[], char *out, size_t cap)
{
    char drop[4096];
    int p[2], status;
    size_t n = 0;
    ssize_t got;
    pid_t pid;

    if (cap == 0 || pipe2(p, O_CLOEXEC) < 0)
        return -1;
    fflush(NULL);
    pid = fork();
    if (pid < 0) {
        close(p[0]);
        close(p[1]);
        return -1;
    }
    if (pid == 0) {
        dup2(p[1], 1);
        execv(argv[0], argv);
        _exit(127);
    }
    close(p[1]);
    while (n + 1 < cap && (got = read(p[0], out + n, cap - 1 - n)) > 0)
        n += (size_t)got;
    out[n] = '\0';
    /* Drain the rest: a child blocked on a full pipe would never exit. */
    while (read(p[0], drop, sizeof(drop)) > 0)
        ;
    close(p[0]);
    if (waitpid(pid, &status, 0) != pid)
        return -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

bool shm_name_exists(pid_t pid)
{
    char path[64];

    snprintf(path, sizeof(path), "/dev/shm/" AGN_SEG_NAME_FMT, (int)pid);
    return access(path, F_OK) == 0;
}

bool mq_name_exists(pid_t pid)
{
    char name[64];
    mqd_t q;

    snprintf(name, sizeof(name), AGN_RETIRED_QUEUE_NAME_FMT, (int)pid);
    q = mq_open(name, O_RDONLY | O_NONBLOCK);
    if (q == (mqd_t)-1)
        return errno != ENOENT;
    mq_close(q);
    return true;
}

int find_mapping(pid_t pid, uintptr_t addr, char perms[8], char *path, size_t cap)
{
    char file[64], line[512];
    FILE *f;

    snprintf(file, sizeof(file), "/proc/%d/maps", (int)pid);
    f = fopen(file, "r");
    if (!f)
        return -1;
    while (fgets(line, sizeof(line), f)) {
        unsigned long lo, hi;
        char p[8], name[300] = "";
        if (sscanf(line, "%lx-%lx %7s %*s %*s %*s %299[^\n]", &lo, &hi, p, name) < 3)
            continue;
        if (addr >= lo && addr < hi) {
            memcpy(perms, p, 8);
            snprintf(path, cap, "%s", name);
            fclose(f);
            return 0;
        }
    }
    fclose(f);
    return -1;
}

long proc_rss_kb(pid_t pid)
{
    char path[64], line[256];
    long kb = -1;
    FILE *f;

    snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
    f = fopen(path, "r");
    while (f != NULL && fgets(line, sizeof(line), f) != NULL)
        if (sscanf(line, "VmRSS: %ld", &kb) == 1)
            break;
    if (f != NULL)
        fclose(f);
    return kb;
}

long proc_cpu_ms(pid_t pid)
{
    char path[64], buf[1024], *p;
    unsigned long ut = 0, st = 0;
    FILE *f;
    size_t n;

    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    f = fopen(path, "r");
    if (f == NULL)
        return -1;
    n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    p = strrchr(buf, ')');
    /* After the name: state is field 3; utime and stime are 14 and 15. */
    if (p == NULL ||
        sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2)
        return -1;
    return (long)((ut + st) * 1000 / (unsigned long)sysconf(_SC_CLK_TCK));
}
