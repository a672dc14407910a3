/* The listening socket: where it lives, who created it, and the accept loop. */
#include "listener.h"

#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <glib.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "agnocast-config.h"

#define LISTEN_BACKLOG      128
#define SD_LISTEN_FDS_START 3

struct listener {
    int fd;
    char *path; /* for logs */
    char *file; /* the socket's path in the file system; NULL for an abstract socket */
    bool from_systemd;
    bool bound; /* we created the file: remove it on exit */
    dev_t dev;
    ino_t ino;
    struct event *ev_accept;
    struct event *ev_resume; /* re-arms accepting after running out of descriptors */
    listener_accept_fn fn;
    void *arg;
};

static socklen_t make_addr(const char *path, struct sockaddr_un *addr)
{
    size_t len = strlen(path);

    memset(addr, 0, sizeof(*addr));
    addr->sun_family = AF_UNIX;
    memcpy(addr->sun_path, path, len);
    if (path[0] == '@')
        addr->sun_path[0] = '\0'; /* abstract namespace: no file, nothing to unlink */
    return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len + (path[0] != '@'));
}

/* Takes the socket systemd passed, if it passed one to this process. */
static int take_systemd_fd(char **err)
{
    const char *pid = getenv("LISTEN_PID"), *fds = getenv("LISTEN_FDS");
    int type = 0;
    socklen_t tlen = sizeof(type);

    if (pid == NULL || fds == NULL || strtol(pid, NULL, 10) != (long)getpid())
        return -1;
    unsetenv("LISTEN_PID");
    unsetenv("LISTEN_FDS");
    unsetenv("LISTEN_FDNAMES");
    if (strtol(fds, NULL, 10) < 1)
        return -1;
    if (getsockopt(SD_LISTEN_FDS_START, SOL_SOCKET, SO_TYPE, &type, &tlen) < 0 ||
        type != SOCK_SEQPACKET) {
        *err =
            g_strdup("systemd handed over fd 3, but it is not a SOCK_SEQPACKET socket; set "
                     "SocketType=sequentialpacket (ListenSequentialPacket=) in agnocastd.socket");
        return -2;
    }
    fcntl(SD_LISTEN_FDS_START, F_SETFD, FD_CLOEXEC);
    fcntl(SD_LISTEN_FDS_START, F_SETFL, fcntl(SD_LISTEN_FDS_START, F_GETFL) | O_NONBLOCK);
    return SD_LISTEN_FDS_START;
}

/* Removes a socket file no broker answers on; refuses if one does (-EADDRINUSE). */
static int clear_stale(const char *path, char **err)
{
    struct sockaddr_un addr;
    socklen_t alen = make_addr(path, &addr);
    struct stat st;
    int fd, rc, e;

    if (path[0] == '@' || lstat(path, &st) < 0)
        return 0;
    if (!S_ISSOCK(st.st_mode)) {
        *err = g_strdup_printf("%s exists and is not a socket; remove it or pick another --socket",
                               path);
        return -EADDRINUSE;
    }
    fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        e = errno;
        *err = g_strdup_printf("cannot create a socket: %s", g_strerror(e));
        return -e;
    }
    rc = connect(fd, (struct sockaddr *)&addr, alen);
    e = errno;
    close(fd);
    if (rc == 0) {
        *err = g_strdup_printf("another broker is already listening on %s; stop it first "
                               "(systemctl stop agnocastd) or pick another --socket",
                               path);
        return -EADDRINUSE;
    }
    if (e != ECONNREFUSED) {
        *err = g_strdup_printf("cannot check whether a broker listens on %s: %s; fix its "
                               "permissions or pick another --socket",
                               path, g_strerror(e));
        return -e;
    }
    if (unlink(path) < 0 && errno != ENOENT) {
        e = errno;
        *err = g_strdup_printf("cannot remove the stale socket %s: %s; remove it by hand", path,
                               g_strerror(e));
        return -e;
    }
    g_message("removed stale socket %s (no broker answered on it)", path);
    return 0;
}

static int bind_path(struct listener *l, unsigned mode, char **err)
{
    struct sockaddr_un addr;
    socklen_t alen;
    struct stat st;
    mode_t old;
    int rc, e;

    if (strlen(l->path) >= sizeof(addr.sun_path) || l->path[0] == '\0') {
        *err = g_strdup_printf("socket path \"%s\" is empty or longer than %zu bytes; pick a "
                               "shorter --socket",
                               l->path, sizeof(addr.sun_path) - 1);
        return -ENAMETOOLONG;
    }
    if ((rc = clear_stale(l->path, err)) < 0)
        return rc;
    alen = make_addr(l->path, &addr);
    l->fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (l->fd < 0) {
        e = errno;
        *err = g_strdup_printf("cannot create a socket: %s", g_strerror(e));
        return -e;
    }
    /* Born owner-only, then opened up to `mode`, so it is never wider than asked. */
    old = umask(0177);
    rc = bind(l->fd, (struct sockaddr *)&addr, alen);
    e = errno;
    umask(old);
    if (rc < 0) {
        *err = g_strdup_printf("cannot bind %s: %s; create its directory, fix permissions or "
                               "pick another --socket",
                               l->path, g_strerror(e));
        return -e;
    }
    if (l->path[0] != '@') {
        l->bound = true;
        if (chmod(l->path, mode) < 0 || stat(l->path, &st) < 0) {
            e = errno;
            *err = g_strdup_printf("cannot set mode %04o on %s: %s", mode, l->path, g_strerror(e));
            return -e;
        }
        l->dev = st.st_dev;
        l->ino = st.st_ino;
    }
    if (listen(l->fd, LISTEN_BACKLOG) < 0) {
        e = errno;
        *err = g_strdup_printf("cannot listen on %s: %s", l->path, g_strerror(e));
        return -e;
    }
    return 0;
}

/* The path systemd bound, as the socket itself reports it; NULL if it has none. */
static char *systemd_file(int fd)
{
    struct sockaddr_un addr;
    socklen_t alen = sizeof(addr);

    memset(&addr, 0, sizeof(addr));
    if (getsockname(fd, (struct sockaddr *)&addr, &alen) < 0 ||
        alen <= offsetof(struct sockaddr_un, sun_path) || addr.sun_path[0] == '\0')
        return NULL;
    addr.sun_path[sizeof(addr.sun_path) - 1] = '\0';
    return g_strdup(addr.sun_path);
}

int listener_open(const char *path, unsigned mode, struct listener **ret, char **err)
{
    struct listener *l = g_new0(struct listener, 1);
    int fd, rc;

    l->fd = -1;
    fd = take_systemd_fd(err);
    if (fd == -2) {
        listener_close(l);
        return -ENOTSOCK;
    }
    if (fd >= 0) {
        l->fd = fd;
        l->from_systemd = true;
        l->file = systemd_file(fd);
        l->path = l->file != NULL ? g_strdup_printf("%s (from systemd)", l->file)
                                  : g_strdup("the socket systemd passed");
        *ret = l;
        return 0;
    }
    if (path == NULL)
        path = getenv("AGNOCAST_SOCKET");
    if (path == NULL || path[0] == '\0')
        path = AGNOCAST_DEFAULT_SOCKET_PATH;
    l->path = g_strdup(path);
    l->file = path[0] != '@' ? g_strdup(path) : NULL;
    if ((rc = bind_path(l, mode, err)) < 0) {
        listener_close(l);
        return rc;
    }
    *ret = l;
    return 0;
}

static void resume_cb(evutil_socket_t fd, short what, void *arg)
{
    struct listener *l = arg;

    event_add(l->ev_accept, NULL);
}

static void accept_cb(evutil_socket_t fd, short what, void *arg)
{
    struct listener *l = arg;

    for (int i = 0; i < 64; i++) {
        int c = accept4(l->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (c >= 0) {
            l->fn(c, l->arg);
            continue;
        }
        if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
            /* Out of descriptors: stop accepting for a second instead of spinning on it. */
            struct timeval tv = {1, 0};
            g_warning("cannot accept a connection on %s: %s; pausing for a second (raise the "
                      "descriptor limit or lower --max-clients)",
                      l->path, g_strerror(errno));
            event_del(l->ev_accept);
            evtimer_add(l->ev_resume, &tv);
        }
        break;
    }
}

void listener_start(struct listener *l, struct event_base *base, listener_accept_fn fn, void *arg)
{
    l->fn = fn;
    l->arg = arg;
    l->ev_accept = event_new(base, l->fd, EV_READ | EV_PERSIST, accept_cb, l);
    l->ev_resume = evtimer_new(base, resume_cb, l);
    event_add(l->ev_accept, NULL);
}

const char *listener_path(const struct listener *l)
{
    return l->path;
}

bool listener_from_systemd(const struct listener *l)
{
    return l->from_systemd;
}

const char *listener_socket_file(const struct listener *l)
{
    return l->file;
}

void listener_close(struct listener *l)
{
    struct stat st;

    if (l == NULL)
        return;
    if (l->ev_accept != NULL)
        event_free(l->ev_accept);
    if (l->ev_resume != NULL)
        event_free(l->ev_resume);
    /* Only a file we bound, and only if nobody replaced it since. */
    if (l->bound && stat(l->path, &st) == 0 && st.st_dev == l->dev && st.st_ino == l->ino)
        unlink(l->path);
    if (l->fd >= 0)
        close(l->fd);
    g_free(l->path);
    g_free(l->file);
    g_free(l);
}
