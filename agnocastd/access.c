/* Per-topic access rules: loading the rules file, longest-prefix matching, the checks, listing. */
#include "access.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "broker.h"
#include "client.h"
#include "registry.h"

/* Who one action of one rule allows. */
struct access_list {
    bool everyone;
    GArray *uids; /* uid_t */
    GArray *gids; /* gid_t */
    char *text;   /* the names as written, joined by ",": "alice,@video"; "*"; "" for nobody */
};

struct access_rule {
    char *prefix;
    unsigned line;              /* of its [prefix] line */
    struct access_list list[2]; /* by enum access_action */
};

struct access_rules {
    char *path;
    GPtrArray *sorted;     /* struct access_rule *, by prefix; owns them */
    GHashTable *by_prefix; /* prefix -> struct access_rule * */
};

#define ACCESS_FILE_MAX (1u << 20) /* a rules file is small; more is a mistake (a log, a disk) */

static const char *const action_key[2] = {"publish", "subscribe"};

static void rule_free(gpointer p)
{
    struct access_rule *r = p;

    for (int a = 0; a < 2; a++) {
        if (r->list[a].uids != NULL)
            g_array_free(r->list[a].uids, TRUE);
        if (r->list[a].gids != NULL)
            g_array_free(r->list[a].gids, TRUE);
        g_free(r->list[a].text);
    }
    g_free(r->prefix);
    g_free(r);
}

void access_rules_free(struct access_rules *rules)
{
    if (rules == NULL)
        return;
    g_hash_table_destroy(rules->by_prefix);
    g_ptr_array_free(rules->sorted, TRUE);
    g_free(rules->path);
    g_free(rules);
}

guint access_rules_count(const struct access_rules *rules)
{
    return rules != NULL ? rules->sorted->len : 0;
}

const char *access_rules_path(const struct access_rules *rules)
{
    return rules != NULL ? rules->path : NULL;
}

/* A line of the file quoted in an error: escaped, and cut if long. */
static char *quote_line(const char *line)
{
    char *cut = g_strndup(line, 60);
    char *q = g_strescape(cut, NULL);

    g_free(cut);
    if (strlen(line) > 60) {
        char *longer = g_strconcat(q, "...", NULL);
        g_free(q);
        q = longer;
    }
    return q;
}

/* Reads the whole file: a regular one (a FIFO would block the broker on SIGHUP), text, small. */
static int read_text(const char *path, char **text, size_t *len, char **why)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    struct stat st;
    GString *buf;
    int err = 0;

    if (fd < 0) {
        *why = g_strdup_printf("cannot read the access rules %s (--access-rules): %s", path,
                               g_strerror(errno));
        return -EINVAL;
    }
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size > ACCESS_FILE_MAX) {
        *why = g_strdup_printf("the access rules %s (--access-rules) must be a regular file of "
                               "at most %u bytes",
                               path, ACCESS_FILE_MAX);
        close(fd);
        return -EINVAL;
    }
    buf = g_string_sized_new((gsize)st.st_size + 1);
    for (;;) {
        char chunk[4096];
        ssize_t n = read(fd, chunk, sizeof(chunk));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            err = errno;
        if (n <= 0)
            break;
        g_string_append_len(buf, chunk, n);
        if (buf->len > ACCESS_FILE_MAX)
            err = EFBIG;
        if (err != 0)
            break;
    }
    close(fd);
    if (err == 0 && memchr(buf->str, '\0', buf->len) != NULL)
        err = EILSEQ;
    if (err != 0) {
        *why = err == EILSEQ ? g_strdup_printf("%s: the access rules file contains a NUL byte; it "
                                               "must be text",
                                               path)
                             : g_strdup_printf("cannot read the access rules %s "
                                               "(--access-rules): %s",
                                               path, g_strerror(err));
        g_string_free(buf, TRUE);
        return -EINVAL;
    }
    const char *bad;
    if (!g_utf8_validate(buf->str, (gssize)buf->len, &bad)) {
        guint line = 1;
        for (const char *p = buf->str; p < bad; p++)
            line += *p == '\n';
        *why = g_strdup_printf("%s:%u: this line is not UTF-8 text", path, line);
        g_string_free(buf, TRUE);
        return -EINVAL;
    }
    *len = buf->len;
    *text = g_string_free(buf, FALSE);
    return 0;
}

/*
 * GKeyFile parses the file but keeps no line numbers and silently merges a repeated group or
 * key; this pass finds both, so every error can name its line and nothing is merged unseen.
 * Fills `group_line` (prefix -> line) and `key_line` ("prefix\nkey" -> line).
 */
static int scan_lines(const char *path, const char *text, GHashTable *group_line,
                      GHashTable *key_line, char **why)
{
    char **lines = g_strsplit(text, "\n", -1);
    const char *group = NULL;
    int rc = 0;

    for (guint i = 0; lines[i] != NULL && rc == 0; i++) {
        char *l = g_strstrip(lines[i]);
        guint n = i + 1, seen;

        if (l[0] == '\0' || l[0] == '#')
            continue;
        if (l[0] == '[') {
            size_t len = strlen(l);
            char *name;
            if (len < 2 || l[len - 1] != ']') {
                char *q = quote_line(l);
                *why = g_strdup_printf("%s:%u: \"%s\" starts a [prefix] line but does not end "
                                       "with ]",
                                       path, n, q);
                g_free(q);
                rc = -EINVAL;
                break;
            }
            name = g_strndup(l + 1, len - 2);
            seen = GPOINTER_TO_UINT(g_hash_table_lookup(group_line, name));
            if (seen != 0) {
                *why = g_strdup_printf("%s:%u: [%s] appears a second time (first at line %u); "
                                       "write each prefix once",
                                       path, n, name, seen);
                g_free(name);
                rc = -EINVAL;
                break;
            }
            g_hash_table_insert(group_line, name, GUINT_TO_POINTER(n));
            group = name;
            continue;
        }
        char *eq = strchr(l, '=');
        if (eq == NULL) {
            char *q = quote_line(l);
            *why = g_strdup_printf("%s:%u: \"%s\" is neither a [prefix] line, a key=value line "
                                   "nor a # comment",
                                   path, n, q);
            g_free(q);
            rc = -EINVAL;
            break;
        }
        char *key = g_strstrip(g_strndup(l, (gsize)(eq - l)));
        if (group == NULL) {
            *why = g_strdup_printf("%s:%u: %s= comes before any [prefix] line; a rule starts with "
                                   "the topic prefix it is for, e.g. [/camera]",
                                   path, n, key);
            g_free(key);
            rc = -EINVAL;
            break;
        }
        char *id = g_strconcat(group, "\n", key, NULL);
        seen = GPOINTER_TO_UINT(g_hash_table_lookup(key_line, id));
        if (seen != 0) {
            *why = g_strdup_printf("%s:%u: [%s] sets %s a second time (first at line %u); write "
                                   "it once, names separated by ;",
                                   path, n, group, key, seen);
            g_free(id);
            rc = -EINVAL;
        } else {
            g_hash_table_insert(key_line, id, GUINT_TO_POINTER(n));
        }
        g_free(key);
    }
    g_strfreev(lines);
    return rc;
}

/* One name of a list: a user, or "@group". Appends its id to `l`. */
static int resolve_name(struct access_list *l, const char *item, const char *where, char **why)
{
    if (item[0] == '@') {
        struct group *gr;
        if (item[1] == '\0') {
            *why = g_strdup_printf("%s: \"@\" without a group name; write @GROUP", where);
            return -EINVAL;
        }
        errno = 0;
        gr = getgrnam(item + 1);
        if (gr == NULL) {
            *why = errno != 0 && errno != ENOENT
                       ? g_strdup_printf("%s: cannot look up group \"%s\": %s", where, item + 1,
                                         g_strerror(errno))
                       : g_strdup_printf("%s: no group \"%s\" on this system; create it or "
                                         "correct the name",
                                         where, item + 1);
            return -EINVAL;
        }
        g_array_append_val(l->gids, gr->gr_gid);
        return 0;
    }
    struct passwd *pw;
    errno = 0;
    pw = getpwnam(item);
    if (pw == NULL) {
        *why = errno != 0 && errno != ENOENT
                   ? g_strdup_printf("%s: cannot look up user \"%s\": %s", where, item,
                                     g_strerror(errno))
                   : g_strdup_printf("%s: no user \"%s\" on this system; correct the name (a "
                                     "group is written @GROUP)",
                                     where, item);
        return -EINVAL;
    }
    g_array_append_val(l->uids, pw->pw_uid);
    return 0;
}

/* "alice;@video", "alice, @video", "*", "" (nobody). */
static int parse_list(struct access_list *l, const char *value, const char *where, char **why)
{
    char **items = g_strsplit_set(value, ",;", -1);
    GString *text = g_string_new(NULL);
    guint names = 0;
    int rc = 0;

    l->uids = g_array_new(FALSE, FALSE, sizeof(uid_t));
    l->gids = g_array_new(FALSE, FALSE, sizeof(gid_t));
    for (guint i = 0; items[i] != NULL && rc == 0; i++) {
        char *item = g_strstrip(items[i]);
        if (item[0] == '\0')
            continue;
        if (strcmp(item, "*") == 0)
            l->everyone = true;
        else
            rc = resolve_name(l, item, where, why);
        if (text->len > 0)
            g_string_append_c(text, ',');
        g_string_append(text, item);
        names++;
    }
    if (rc == 0 && l->everyone && names > 1) {
        *why = g_strdup_printf("%s: \"*\" (everyone) is combined with names; write either * or "
                               "the names",
                               where);
        rc = -EINVAL;
    }
    if (rc == 0 && text->len >= AGNOCAST_RULE_TEXT_MAX) {
        *why = g_strdup_printf("%s: the list is %zu bytes, more than the %d a rule may hold; name "
                               "a group (@GROUP) instead of many users",
                               where, text->len, AGNOCAST_RULE_TEXT_MAX - 1);
        rc = -EINVAL;
    }
    l->text = g_string_free(text, FALSE);
    g_strfreev(items);
    return rc;
}

static guint line_of(GHashTable *table, const char *group, const char *key)
{
    char *id = key != NULL ? g_strconcat(group, "\n", key, NULL) : g_strdup(group);
    guint n = GPOINTER_TO_UINT(g_hash_table_lookup(table, id));

    g_free(id);
    return n;
}

static int parse_rule(struct access_rules *rules, GKeyFile *kf, const char *group,
                      GHashTable *group_line, GHashTable *key_line, char **why)
{
    struct access_rule *r = g_new0(struct access_rule, 1);
    guint gline = line_of(group_line, group, NULL);
    char **keys;
    int rc = 0;

    r->prefix = g_strdup(group);
    r->line = gline;
    g_ptr_array_add(rules->sorted, r); /* freed with the rules whatever happens next */
    if (strcmp(group, "/") != 0 && !agnocast_topic_name_valid(group)) {
        *why = g_strdup_printf("%s:%u: [%s] is not a topic prefix: write [/] for every topic, or "
                               "a topic name such as [/camera] (segments of letters, digits and "
                               "_, each not starting with a digit, no trailing /)",
                               rules->path, gline, group);
        return -EINVAL;
    }
    keys = g_key_file_get_keys(kf, group, NULL, NULL);
    for (guint i = 0; keys != NULL && keys[i] != NULL; i++) {
        if (strcmp(keys[i], "publish") != 0 && strcmp(keys[i], "subscribe") != 0) {
            *why = g_strdup_printf("%s:%u: [%s] has an unknown key \"%s\"; a rule has exactly "
                                   "publish= and subscribe=",
                                   rules->path, line_of(key_line, group, keys[i]), group, keys[i]);
            rc = -EINVAL;
            break;
        }
    }
    g_strfreev(keys);
    for (int a = 0; a < 2 && rc == 0; a++) {
        char *value = g_key_file_get_value(kf, group, action_key[a], NULL);
        char *where;
        if (value == NULL) {
            *why = g_strdup_printf("%s:%u: [%s] has no %s= line; write %s=* for everyone, or %s= "
                                   "for nobody",
                                   rules->path, gline, group, action_key[a], action_key[a],
                                   action_key[a]);
            return -EINVAL;
        }
        where = g_strdup_printf("%s:%u: [%s] %s", rules->path,
                                line_of(key_line, group, action_key[a]), group, action_key[a]);
        rc = parse_list(&r->list[a], value, where, why);
        g_free(where);
        g_free(value);
    }
    if (rc == 0)
        g_hash_table_insert(rules->by_prefix, r->prefix, r);
    return rc;
}

static gint rule_cmp(gconstpointer a, gconstpointer b)
{
    const struct access_rule *ra = *(const struct access_rule *const *)a;
    const struct access_rule *rb = *(const struct access_rule *const *)b;

    return strcmp(ra->prefix, rb->prefix);
}

struct access_rules *access_rules_load(const char *path, char **why)
{
    struct access_rules *rules = g_new0(struct access_rules, 1);
    GHashTable *group_line = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    GHashTable *key_line = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    GKeyFile *kf = g_key_file_new();
    GError *error = NULL;
    char *text = NULL;
    size_t len = 0;
    int rc;

    rules->path = g_strdup(path);
    rules->sorted = g_ptr_array_new_with_free_func(rule_free);
    rules->by_prefix = g_hash_table_new(g_str_hash, g_str_equal);
    rc = read_text(path, &text, &len, why);
    if (rc == 0)
        rc = scan_lines(path, text, group_line, key_line, why);
    if (rc == 0 && !g_key_file_load_from_data(kf, text, len, G_KEY_FILE_NONE, &error)) {
        *why = g_strdup_printf("%s: %s", path, error->message);
        rc = -EINVAL;
    }
    if (rc == 0) {
        char **groups = g_key_file_get_groups(kf, NULL);
        for (guint i = 0; groups[i] != NULL && rc == 0; i++)
            rc = parse_rule(rules, kf, groups[i], group_line, key_line, why);
        g_strfreev(groups);
        g_ptr_array_sort(rules->sorted, rule_cmp);
    }
    g_clear_error(&error);
    g_free(text);
    g_key_file_free(kf);
    g_hash_table_destroy(group_line);
    g_hash_table_destroy(key_line);
    if (rc < 0) {
        access_rules_free(rules);
        return NULL;
    }
    return rules;
}

/* The rule with the longest prefix of `topic` (whole segments only), or NULL. */
static const struct access_rule *rule_for(const struct access_rules *rules, const char *topic)
{
    const struct access_rule *r = NULL;
    char *p = g_strdup(topic);

    for (;;) {
        char *slash;
        r = g_hash_table_lookup(rules->by_prefix, p);
        if (r != NULL)
            break;
        slash = strrchr(p, '/');
        if (slash == NULL || (slash == p && p[1] == '\0'))
            break;
        slash[slash == p ? 1 : 0] = '\0'; /* "/a/b" -> "/a" -> "/" */
    }
    g_free(p);
    return r;
}

static bool gid_in(const GArray *gids, gid_t gid)
{
    for (guint i = 0; i < gids->len; i++)
        if (g_array_index(gids, gid_t, i) == gid)
            return true;
    return false;
}

static bool list_allows(const struct access_list *l, const struct access_peer *who)
{
    if (l->everyone)
        return true;
    for (guint i = 0; i < l->uids->len; i++)
        if (g_array_index(l->uids, uid_t, i) == who->uid)
            return true;
    if (gid_in(l->gids, who->gid))
        return true;
    for (size_t i = 0; i < who->ngroups; i++)
        if (gid_in(l->gids, who->groups[i]))
            return true;
    return false;
}

static bool allows(const struct access_rules *rules, const char *topic, enum access_action action,
                   const struct access_peer *who, const struct access_rule **rule)
{
    *rule = rules != NULL ? rule_for(rules, topic) : NULL;
    return *rule == NULL || list_allows(&(*rule)->list[action], who);
}

/* "uid 1000 (alice)": only on a refusal, so the user database is not asked on every request. */
static char *describe_uid(uid_t uid)
{
    struct passwd *pw = getpwuid(uid);

    return pw != NULL ? g_strdup_printf("uid %u (%s)", (unsigned)uid, pw->pw_name)
                      : g_strdup_printf("uid %u (no user name)", (unsigned)uid);
}

int access_check(const struct access_rules *rules, const char *topic, enum access_action action,
                 const struct access_peer *who, char **why)
{
    const struct access_rule *r;
    char *requester;

    if (allows(rules, topic, action, who, &r))
        return 0;
    /* The ERROR message holds 255 bytes: the topic, which the client knows, goes last. */
    requester = describe_uid(who->uid);
    *why = g_strdup_printf("%s may not %s: rule [%s] in %s (line %u) lets %s%s %s; topic %s",
                           requester, action_key[action], r->prefix, rules->path, r->line,
                           r->list[action].text[0] != '\0' ? "only " : "nobody",
                           r->list[action].text, action_key[action], topic);
    g_free(requester);
    return -EACCES;
}

void access_peer_of(const struct client *c, struct access_peer *out)
{
    out->uid = c->uid;
    out->gid = c->gid;
    out->groups = c->groups;
    out->ngroups = c->ngroups;
}

int access_check_endpoint(struct client *c, const char *topic, bool is_publisher, char **why)
{
    struct access_peer who;

    if (c->broker->access == NULL)
        return 0;
    access_peer_of(c, &who);
    return access_check(c->broker->access, topic, is_publisher ? ACCESS_PUBLISH : ACCESS_SUBSCRIBE,
                        &who, why);
}

/* 1 if `who` may take the other side of one of the endpoints in `eps` (index -> endpoint). */
static bool may_meet(const struct access_rules *rules, GHashTable *eps, enum access_action action,
                     const struct access_peer *who)
{
    GHashTableIter it;
    gpointer value;
    const struct access_rule *r;

    g_hash_table_iter_init(&it, eps);
    while (g_hash_table_iter_next(&it, NULL, &value)) {
        const struct reg_endpoint *ep = value;
        if (allows(rules, ep->topic->name, action, who, &r))
            return true;
    }
    return false;
}

int access_check_segment(struct client *c, struct reg_process *owner, char **why)
{
    const struct access_rules *rules = c->broker->access;
    struct access_peer who;
    char *requester;

    if (rules == NULL || c->uid == owner->uid || c->uid == 0)
        return 0;
    access_peer_of(c, &who);
    /* What an endpoint of the caller's own would have been handed (endpoint.c notice()). */
    if (may_meet(rules, owner->pubs, ACCESS_SUBSCRIBE, &who) ||
        may_meet(rules, owner->subs, ACCESS_PUBLISH, &who))
        return 0;
    requester = describe_uid(c->uid);
    *why = g_strdup_printf("%s may not read the pool of process %d: the rules in %s let it "
                           "neither subscribe to a topic that process publishes nor publish on "
                           "one it subscribes to",
                           requester, (int)owner->pid, rules->path);
    g_free(requester);
    return -EACCES;
}

guint access_rules_list(const struct access_rules *rules, guint start,
                        struct agnocast_wire_rule_entry *out, guint max, guint *total)
{
    guint n = 0;

    *total = access_rules_count(rules);
    for (guint i = start; i < *total && n < max; i++, n++) {
        const struct access_rule *r = g_ptr_array_index(rules->sorted, i);
        memset(&out[n], 0, sizeof(out[n]));
        g_strlcpy(out[n].prefix, r->prefix, sizeof(out[n].prefix));
        g_strlcpy(out[n].publish, r->list[ACCESS_PUBLISH].text, sizeof(out[n].publish));
        g_strlcpy(out[n].subscribe, r->list[ACCESS_SUBSCRIBE].text, sizeof(out[n].subscribe));
    }
    return n;
}
