/* The heap hook under real programs: system tools with no broker, and the tree examples. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"

#define OUT_CAP (1 << 20)

static char *hook_path(void)
{
    char *h = getenv("AGNOCAST_TEST_HEAPHOOK");

    assert_non_null(h);
    return h;
}

/* Runs argv with and without the hook; both must succeed with the same output. */
static void same_with_and_without(char *const argv[])
{
    char *plain = malloc(OUT_CAP), *hooked = malloc(OUT_CAP);
    int r1, r2;

    assert_non_null(plain);
    assert_non_null(hooked);
    if (access(argv[0], X_OK) != 0) {
        free(plain);
        free(hooked);
        skip();
    }
    unsetenv("LD_PRELOAD");
    r1 = run_capture(argv, plain, OUT_CAP);
    setenv("LD_PRELOAD", hook_path(), 1);
    r2 = run_capture(argv, hooked, OUT_CAP);
    unsetenv("LD_PRELOAD");
    assert_int_equal(r1, 0);
    assert_int_equal(r2, 0);
    assert_true(strlen(plain) > 0);
    assert_string_equal(plain, hooked);
    free(plain);
    free(hooked);
}

/* 50 000 lines in an order sort has to work at, into fd (closed). */
static void write_sort_input(int fd)
{
    FILE *f = fdopen(fd, "w");

    assert_non_null(f);
    for (unsigned i = 0; i < 50000; i++)
        fprintf(f, "%u line %x\n", (i * 2654435761u) % 100003, i);
    fclose(f);
}

static void test_heaphook_sort_without_broker(void **state)
{
    char path[] = "/tmp/agnocast-heaphook-sort-XXXXXX";
    int fd = mkstemp(path);

    (void)state;
    assert_true(fd >= 0);
    write_sort_input(fd);
    /* No AGNOCAST_SOCKET broker exists here: nothing may try to reach one. */
    setenv("AGNOCAST_SOCKET", "/nonexistent/agnocast.sock", 1);
    same_with_and_without((char *const[]){"/usr/bin/sort", "-n", path, NULL});
    unlink(path);
}

/* AGNOCAST_HEAPHOOK_ALL=1: the whole heap lives in the process's segment, and programs still
 * behave the same. */
static void test_heaphook_whole_heap_mode(void **state)
{
    static const char probe[] =
        "import ctypes\n"
        "libc = ctypes.CDLL(None)\n"
        "libc.malloc.restype = ctypes.c_void_p\n"
        "p = libc.malloc(1000)\n"
        "inside = False\n"
        "for line in open('/proc/self/maps'):\n"
        "    lo, hi = (int(x, 16) for x in line.split()[0].split('-'))\n"
        "    if 'agnocast@' in line and lo <= p < hi and line.split()[1] == 'rw-s':\n"
        "        inside = True\n"
        "print('in-segment' if inside else 'private')\n";
    char out[256], path[] = "/tmp/agnocast-heaphook-all-XXXXXX";
    struct broker b;
    int fd = mkstemp(path);

    (void)state;
    assert_true(fd >= 0);
    write_sort_input(fd);
    assert_int_equal(broker_start(&b, NULL), 0);
    setenv("AGNOCAST_HEAPHOOK_ALL", "1", 1);
    setenv("MEMPOOL_SIZE", "256M", 1);
    same_with_and_without((char *const[]){"/usr/bin/sort", "-n", path, NULL});
    same_with_and_without((char *const[]){"/usr/bin/python3", "-c",
                                          "import json; print(json.dumps(sorted({str(i): i*i "
                                          "for i in range(20000)}.items())[:50]))",
                                          NULL});
    /* And the heap really is in the segment. */
    setenv("LD_PRELOAD", hook_path(), 1);
    assert_int_equal(run_capture((char *const[]){"/usr/bin/python3", "-c", (char *)probe, NULL},
                                 out, sizeof(out)),
                     0);
    unsetenv("LD_PRELOAD");
    assert_string_equal(out, "in-segment\n");
    unsetenv("AGNOCAST_HEAPHOOK_ALL");
    unsetenv("MEMPOOL_SIZE");
    unlink(path);
    assert_int_equal(broker_stop(&b), 0);
}

static void test_heaphook_python_without_broker(void **state)
{
    (void)state;
    setenv("AGNOCAST_SOCKET", "/nonexistent/agnocast.sock", 1);
    same_with_and_without((char *const[]){
        "/usr/bin/python3", "-c",
        "import json, threading\n"
        "d = {str(i): [i] * (i % 7) for i in range(50000)}\n"
        "out = []\n"
        "ts = [threading.Thread(target=lambda k=k: out.append(len(json.dumps(d)) + k)) "
        "for k in range(4)]\n"
        "[t.start() for t in ts]; [t.join() for t in ts]\n"
        "print(sorted(out), bytearray(1 << 20).count(0))",
        NULL});
}

static void test_heaphook_gcc_without_broker(void **state)
{
    char dir[] = "/tmp/agnocast-heaphook-gcc-XXXXXX";
    char src[300], bin[300], out[256];
    FILE *f;

    (void)state;
    assert_non_null(mkdtemp(dir));
    snprintf(src, sizeof(src), "%s/t.c", dir);
    snprintf(bin, sizeof(bin), "%s/t", dir);
    f = fopen(src, "w");
    assert_non_null(f);
    fputs("#include <stdio.h>\n#include <stdlib.h>\n"
          "int main(void) { int s = 0; for (int i = 0; i < 100; i++) s += i * i;\n"
          "printf(\"%d\\n\", s); return 0; }\n",
          f);
    fclose(f);
    setenv("AGNOCAST_SOCKET", "/nonexistent/agnocast.sock", 1);
    if (access("/usr/bin/gcc", X_OK) != 0)
        skip();
    /* A real compile: gcc, cc1, as and collect2/ld all run under the hook. */
    setenv("LD_PRELOAD", hook_path(), 1);
    assert_int_equal(
        run_capture((char *const[]){"/usr/bin/gcc", "-O2", "-o", bin, src, NULL}, out, sizeof(out)),
        0);
    unsetenv("LD_PRELOAD");
    same_with_and_without((char *const[]){bin, NULL});
    assert_int_equal(run_capture((char *const[]){bin, NULL}, out, sizeof(out)), 0);
    assert_string_equal(out, "328350\n");
    unlink(src);
    unlink(bin);
    rmdir(dir);
}

static pid_t spawn(char *const argv[], int *out_fd)
{
    int p[2];
    pid_t pid;

    assert_int_equal(pipe(p), 0);
    pid = fork();
    if (pid == 0) {
        dup2(p[1], 1);
        close(p[0]);
        close(p[1]);
        setenv("LD_PRELOAD", getenv("AGNOCAST_TEST_HEAPHOOK"), 1);
        execv(argv[0], argv);
        _exit(127);
    }
    close(p[1]);
    *out_fd = p[0];
    return pid;
}

static void test_heaphook_tree_examples_deliver_intact(void **state)
{
    struct broker b;
    char buf[4096], *listener = getenv("AGNOCAST_TEST_TREE_LISTENER");
    char *talker = getenv("AGNOCAST_TEST_TREE_TALKER");
    unsigned long long received = 0, corrupt = 99;
    size_t n = 0;
    ssize_t got;
    int lfd, tfd, status;
    pid_t lpid, tpid;

    (void)state;
    assert_non_null(listener);
    assert_non_null(talker);
    assert_int_equal(broker_start(&b, NULL), 0);
    lpid = spawn((char *const[]){listener, "--count", "200", "--timeout", "60", "--json", "--depth",
                                 "50", NULL},
                 &lfd);
    usleep(300000); /* the subscription exists before the first message */
    tpid = spawn((char *const[]){talker, "--count", "200", "--nodes", "300", "--rate", "500",
                                 "--linger", "1000", NULL},
                 &tfd);
    waitpid(tpid, &status, 0);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    while (n + 1 < sizeof(buf) && (got = read(lfd, buf + n, sizeof(buf) - 1 - n)) > 0)
        n += (size_t)got;
    buf[n] = '\0';
    waitpid(lpid, &status, 0);
    close(lfd);
    close(tfd);
    assert_int_equal(broker_stop(&b), 0);
    assert_non_null(strstr(buf, "\"received\""));
    sscanf(strstr(buf, "\"received\""), "\"received\": %llu", &received);
    sscanf(strstr(buf, "\"corrupt\""), "\"corrupt\": %llu", &corrupt);
    assert_int_equal(received, 200);
    assert_int_equal(corrupt, 0);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_heaphook_sort_without_broker),
        cmocka_unit_test(test_heaphook_python_without_broker),
        cmocka_unit_test(test_heaphook_gcc_without_broker),
        cmocka_unit_test(test_heaphook_tree_examples_deliver_intact),
        cmocka_unit_test(test_heaphook_whole_heap_mode),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
