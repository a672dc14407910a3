/* The CLI's connection to the broker: connect, HELLO, one request at a time, paged lists,
 * segment descriptors. */
#include "client.h"

#include <errno.h>
#include <grp.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "agnocast-proto.h"
#include "agnocastctl.h"
#include "format.h"

/* More entries than any broker can hold: a list that keeps growing past this is a bad peer. */
#define CLIENT_LIST_ENTRIES_MAX (1u << 20)
/* Frames with another request id tolerated while waiting for a reply. */
#define CLIENT_STRAY_FRAMES_MAX 64

struct client {
    int fd;
    char *path;
    int timeout_s;
    uint32_t next_id;
    uint32_t broker_pid;
    int32_t error_code; /* of the broker's last ERROR reply */
    union agnocast_frame_buffer *buf;
};

static void client_set_access_error(const char *path, GError **error)
{
    struct stat st;
    const char *group = "agnocast";
    struct group *gr = NULL;

    if (stat(path, &st) == 0 && (gr = getgrgid(st.st_gid)) != NULL)
        group = gr->gr_name;
    g_set_error(error, CTL_ERROR, CLI_EXIT_DENIED,
                "permission denied on the broker socket %s: only members of group '%s' may "
                "connect; join it (`sudo usermod -aG %s $USER`, then log in again) or set "
                "AGNOCAST_SOCKET to a broker you may use",
                path, group, group);
}

static void client_set_connect_error(const char *path, int err, GError **error)
{
    switch (err) {
    case ENOENT:
    case ECONNREFUSED:
        g_set_error(error, CTL_ERROR, CLI_EXIT_NO_BROKER,
                    "no broker at %s (%s): start it with `systemctl start agnocastd` or run "
                    "`agnocastd --socket %s`, or set AGNOCAST_SOCKET",
                    path, err == ENOENT ? "no such socket" : "connection refused", path);
        return;
    case EACCES:
    case EPERM:
        client_set_access_error(path, error);
        return;
    case EAGAIN:
    case EINPROGRESS:
        g_set_error(error, CTL_ERROR, CLI_EXIT_NO_BROKER,
                    "the broker at %s does not accept connections (its backlog is full): "
                    "see its log (`journalctl -u agnocastd`)",
                    path);
        return;
    default:
        g_set_error(error, CTL_ERROR, CLI_EXIT_NO_BROKER,
                    "cannot connect to %s: %s: is it an agnocastd socket? (--socket, "
                    "AGNOCAST_SOCKET)",
                    path, g_strerror(err));
        return;
    }
}

static void client_set_version_error(const struct client *c, unsigned broker_version,
                                     GError **error)
{
    g_set_error(error, CTL_ERROR, CLI_EXIT_PROTOCOL,
                "the broker at %s speaks protocol version %u, this agnocastctl speaks version %u: "
                "install matching versions of agnocastd and agnocastctl (and restart the broker)",
                c->path, broker_version, (unsigned)AGNOCAST_PROTO_VERSION);
}

static void client_set_io_error(const struct client *c, int err, GError **error)
{
    if (err == EAGAIN || err == EWOULDBLOCK)
        g_set_error(error, CTL_ERROR, CLI_EXIT_PROTOCOL,
                    "the broker at %s did not answer within %d s: see its log (`journalctl -u "
                    "agnocastd`), or wait longer with --timeout",
                    c->path, c->timeout_s);
    else if (err == EPIPE || err == ECONNRESET || err == 0)
        g_set_error(error, CTL_ERROR, CLI_EXIT_PROTOCOL,
                    "the broker at %s closed the connection: see its log (`journalctl -u "
                    "agnocastd`)",
                    c->path);
    else
        g_set_error(error, CTL_ERROR, CLI_EXIT_PROTOCOL, "talking to the broker at %s: %s", c->path,
                    g_strerror(err));
}

static void client_set_broker_error(struct client *c, const struct agnocast_frame *f,
                                    GError **error)
{
    const struct agnocast_wire_error *e = f->payload;

    c->error_code = e->code;
    if (e->code == -EPROTONOSUPPORT) {
        client_set_version_error(c, e->version, error);
        return;
    }
    g_autofree char *text = format_clean_text(e->message);
    if (text[0] == '\0') {
        g_free(text);
        text = g_strdup(g_strerror(-e->code));
    }
    g_set_error(error, CTL_ERROR, CLI_EXIT_REFUSED, "%s", text);
}

/* Receives one frame into c->buf. With `keep`, the first descriptor that came with it is
 * stored there (-1: none); every other descriptor is closed. */
static ssize_t client_recv(struct client *c, int *keep)
{
    int fds[AGNOCAST_PROTO_FDS_MAX];
    int nfds = AGNOCAST_PROTO_FDS_MAX;
    ssize_t n = agnocast_proto_recv(c->fd, c->buf->bytes, sizeof c->buf->bytes, fds, &nfds);

    if (keep != NULL)
        *keep = -1;
    for (int i = 0; n >= 0 && i < nfds; i++) {
        if (keep != NULL && i == 0)
            *keep = fds[0];
        else
            close(fds[i]);
    }
    return n;
}

/* What a received frame is to the request `id` of `kind`: 1 its answer (of `reply_kind`, in
 * *reply), 0 a frame for something else (a notice, a late answer), -1 an error (*error set). */
static int client_check_reply(struct client *c, uint16_t kind, uint32_t id, uint16_t reply_kind,
                              ssize_t got, struct agnocast_frame *reply, GError **error)
{
    if (got <= 0 && got != -EMSGSIZE) {
        client_set_io_error(c, (int)-got, error);
        return -1;
    }
    int drc = got < 0 ? (int)got : agnocast_proto_decode(c->buf->bytes, (size_t)got, reply);
    if (drc == -EPROTONOSUPPORT) {
        client_set_version_error(c, reply->version, error);
        return -1;
    }
    if (drc < 0) {
        g_set_error(error, CTL_ERROR, CLI_EXIT_PROTOCOL,
                    "the broker at %s sent a malformed reply to %s (%s): is it the same "
                    "agnocast version as this agnocastctl?",
                    c->path, agnocast_proto_kind_name(kind), g_strerror(-drc));
        return -1;
    }
    if (reply->request_id != id)
        return 0;
    if (reply->kind == AGNOCAST_MSG_ERROR) {
        client_set_broker_error(c, reply, error);
        return -1;
    }
    if (reply->kind != reply_kind) {
        g_set_error(error, CTL_ERROR, CLI_EXIT_PROTOCOL,
                    "the broker at %s answered %s with %s instead of %s", c->path,
                    agnocast_proto_kind_name(kind), agnocast_proto_kind_name(reply->kind),
                    agnocast_proto_kind_name(reply_kind));
        return -1;
    }
    return 1;
}

/*
 * Sends one request and waits for the frame that answers it, which must be `reply_kind`. With
 * `fd`, the first descriptor that came with the answer is returned there (-1: none; the caller
 * closes it); descriptors of any other frame are closed.
 */
static gboolean client_request(struct client *c, uint16_t kind, const void *payload, size_t len,
                               uint16_t reply_kind, struct agnocast_frame *reply, int *fd,
                               GError **error)
{
    unsigned char out[sizeof(struct agnocast_wire_header) + sizeof(struct agnocast_wire_query)];
    uint32_t id = c->next_id++;
    ssize_t n = agnocast_proto_encode(out, sizeof out, kind, id, payload, len);

    if (n < 0) {
        g_set_error(error, CTL_ERROR, CLI_EXIT_PROTOCOL, "cannot encode a %s request: %s",
                    agnocast_proto_kind_name(kind), g_strerror((int)-n));
        return FALSE;
    }
    int rc = agnocast_proto_send(c->fd, out, (size_t)n, NULL, 0);
    if (rc < 0) {
        client_set_io_error(c, -rc, error);
        return FALSE;
    }

    for (int stray = 0; stray <= CLIENT_STRAY_FRAMES_MAX; stray++) {
        int got_fd = -1;
        ssize_t got = client_recv(c, fd != NULL ? &got_fd : NULL);
        int verdict = client_check_reply(c, kind, id, reply_kind, got, reply, error);

        if (verdict > 0 && fd != NULL) {
            *fd = got_fd;
            got_fd = -1;
        }
        if (got_fd >= 0)
            close(got_fd);
        if (verdict != 0)
            return verdict > 0;
    }
    g_set_error(error, CTL_ERROR, CLI_EXIT_PROTOCOL,
                "the broker at %s sent %d frames that answer nothing this agnocastctl asked",
                c->path, CLIENT_STRAY_FRAMES_MAX);
    return FALSE;
}

struct client *client_connect(const char *path, int timeout_s, GError **error)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};

    if (path[0] == '\0' || strlen(path) >= sizeof sa.sun_path) {
        g_set_error(error, CTL_ERROR, CLI_EXIT_USAGE,
                    "socket path '%s' must be 1 to %zu bytes long (--socket, AGNOCAST_SOCKET)",
                    path, sizeof sa.sun_path - 1);
        return NULL;
    }
    memcpy(sa.sun_path, path, strlen(path) + 1);

    int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        g_set_error(error, CTL_ERROR, CLI_EXIT_FAILURE, "cannot create a socket: %s",
                    g_strerror(errno));
        return NULL;
    }
    /* One timeout bounds connect (a full backlog), every send and every wait for a reply. */
    struct timeval tv = {.tv_sec = timeout_s};
    (void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    (void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
        client_set_connect_error(path, errno, error);
        close(fd);
        return NULL;
    }

    struct client *c = g_new0(struct client, 1);
    c->fd = fd;
    c->path = g_strdup(path);
    c->timeout_s = timeout_s;
    c->next_id = 1;
    c->buf = g_new(union agnocast_frame_buffer, 1);

    struct agnocast_wire_hello hello = {.flags = 0};
    struct agnocast_frame reply;
    if (!client_request(c, AGNOCAST_MSG_HELLO, &hello, sizeof hello, AGNOCAST_MSG_HELLO_REPLY,
                        &reply, NULL, error)) {
        client_free(c);
        return NULL;
    }
    c->broker_pid = ((const struct agnocast_wire_hello_reply *)reply.payload)->broker_pid;
    return c;
}

uint32_t client_broker_pid(const struct client *c)
{
    return c->broker_pid;
}

void client_free(struct client *c)
{
    if (c == NULL)
        return;
    close(c->fd);
    g_free(c->path);
    g_free(c->buf);
    g_free(c);
}

GArray *client_query_list(struct client *c, uint16_t kind, const char *topic, GError **error)
{
    uint16_t reply_kind;
    size_t entry_size;

    switch (kind) {
    case AGNOCAST_MSG_LIST_TOPICS:
        reply_kind = AGNOCAST_MSG_TOPIC_LIST;
        entry_size = sizeof(struct agnocast_wire_topic_entry);
        break;
    case AGNOCAST_MSG_TOPIC_INFO:
        reply_kind = AGNOCAST_MSG_TOPIC_INFO_REPLY;
        entry_size = sizeof(struct agnocast_wire_endpoint_entry);
        break;
    case AGNOCAST_MSG_LIST_PROCESSES:
        reply_kind = AGNOCAST_MSG_PROCESS_LIST;
        entry_size = sizeof(struct agnocast_wire_process_entry);
        break;
    case AGNOCAST_MSG_LIST_RULES:
        reply_kind = AGNOCAST_MSG_RULE_LIST;
        entry_size = sizeof(struct agnocast_wire_rule_entry);
        break;
    default:
        g_set_error(error, CTL_ERROR, CLI_EXIT_PROTOCOL, "%s is not a list query",
                    agnocast_proto_kind_name(kind));
        return NULL;
    }

    GArray *out = g_array_new(FALSE, TRUE, (guint)entry_size);
    uint32_t total;
    do {
        struct agnocast_wire_query q = {.start = out->len};
        struct agnocast_frame reply;

        if (topic != NULL && agnocast_topic_field_set(q.topic, topic) < 0) {
            g_set_error(error, CTL_ERROR, CLI_EXIT_USAGE, "topic name '%s' is too long", topic);
            goto fail;
        }
        if (!client_request(c, kind, &q, sizeof q, reply_kind, &reply, NULL, error))
            goto fail;
        total = reply.list_total;
        /* The registry may change between pages; only a page that makes no progress is bad. */
        if (reply.list_count == 0 && out->len < total) {
            g_set_error(error, CTL_ERROR, CLI_EXIT_PROTOCOL,
                        "the broker at %s sent an empty page at entry %u of %u", c->path, out->len,
                        total);
            goto fail;
        }
        if (out->len + (uint64_t)reply.list_count > CLIENT_LIST_ENTRIES_MAX) {
            g_set_error(error, CTL_ERROR, CLI_EXIT_PROTOCOL,
                        "the broker at %s sent more than %u entries", c->path,
                        CLIENT_LIST_ENTRIES_MAX);
            goto fail;
        }
        g_array_append_vals(out, reply.entries, reply.list_count);
    } while (out->len < total);
    return out;

fail:
    g_array_free(out, TRUE);
    return NULL;
}

GArray *client_query_stats(struct client *c, GError **error)
{
    struct agnocast_frame reply;

    if (!client_request(c, AGNOCAST_MSG_STATS, NULL, 0, AGNOCAST_MSG_STATS_REPLY, &reply, NULL,
                        error))
        return NULL;
    GArray *out = g_array_new(FALSE, TRUE, sizeof(struct agnocast_wire_stats_entry));
    g_array_append_vals(out, reply.entries, reply.list_count);
    return out;
}

/* Whether the broker's refusal says the process is no longer registered (it left after the
 * broker listed it), rather than refusing this area of a process it still has. */
static gboolean client_process_gone(const struct client *c, const char *text)
{
    (void)text;
    return c->error_code == -ESRCH;
}

int client_get_segment(struct client *c, uint32_t pid, uint32_t area, uint64_t *base,
                       uint64_t *size, GError **error)
{
    struct agnocast_wire_segment_query q = {.pid = pid, .area = area};
    struct agnocast_frame reply;
    GError *local = NULL;
    int fd = -1;

    if (!client_request(c, AGNOCAST_MSG_GET_SEGMENT, &q, sizeof q, AGNOCAST_MSG_SEGMENT_REPLY,
                        &reply, &fd, &local)) {
        if (local->code != CLI_EXIT_REFUSED) {
            g_propagate_error(error, local);
            return -1;
        }
        if (client_process_gone(c, local->message))
            g_set_error(error, CTL_ERROR, CLI_EXIT_NO_SEGMENT,
                        "process %" G_GUINT32_FORMAT " is gone: it left after the broker listed "
                        "it; run the command again",
                        pid);
        else if (area == 0)
            g_set_error(error, CTL_ERROR, CLI_EXIT_NO_SEGMENT,
                        "the broker refused the segment of process %" G_GUINT32_FORMAT ": %s", pid,
                        local->message);
        else
            g_set_error(error, CTL_ERROR, CLI_EXIT_NO_SEGMENT,
                        "the broker refused growth area %" G_GUINT32_FORMAT
                        " of process %" G_GUINT32_FORMAT ": %s",
                        area, pid, local->message);
        g_error_free(local);
        return -1;
    }
    const struct agnocast_wire_segment *r = reply.payload;
    if (r->pid != pid || r->area != area || fd < 0) {
        if (fd >= 0)
            close(fd);
        g_set_error(error, CTL_ERROR, CLI_EXIT_PROTOCOL,
                    "the broker at %s answered GET_SEGMENT for area %" G_GUINT32_FORMAT
                    " of process %" G_GUINT32_FORMAT " with %s: is it the same agnocast "
                    "version as this agnocastctl?",
                    c->path, area, pid, fd < 0 ? "no descriptor" : "another process's area");
        return -1;
    }
    *base = r->base;
    *size = r->size;
    return fd;
}
