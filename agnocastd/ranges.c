/* The address-range allocator: a sorted array of reserved ranges inside one window. */
#include "ranges.h"

#include <errno.h>
#include <glib.h>
#include <unistd.h>

struct range {
    uint64_t base;
    uint64_t size;
};

struct ranges {
    uint64_t base;
    uint64_t end;
    GArray *used; /* struct range, sorted by base, never overlapping */
};

static uint64_t align_up(uint64_t v, uint64_t a)
{
    return (v + a - 1) / a * a;
}

int ranges_window_validate(uint64_t base, uint64_t size, char **why)
{
    uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE);
    char *msg = NULL;

    if (base % page != 0 || size % page != 0)
        msg = g_strdup_printf("the window 0x%" G_GINT64_MODIFIER "x + 0x%" G_GINT64_MODIFIER
                              "x is not page aligned (page size %" G_GUINT64_FORMAT
                              "); pick a base and size that are multiples of it",
                              base, size, page);
    else if (size == 0)
        msg = g_strdup("the window size is 0; give --window-size a size such as 16T");
    else if (base == 0)
        msg = g_strdup("the window base is 0, where nothing can be mapped; give --window-base an "
                       "address such as 0x40000000000");
    else if (base >= RANGES_USER_TOP || size > RANGES_USER_TOP - base)
        msg = g_strdup_printf("the window 0x%" G_GINT64_MODIFIER "x-0x%" G_GINT64_MODIFIER
                              "x does not lie below the end of user space (0x%llx); lower "
                              "--window-base or --window-size",
                              base, base + size, RANGES_USER_TOP);
    else if (align_up(base, RANGES_ALIGN) >= base + size)
        msg = g_strdup_printf("the window 0x%" G_GINT64_MODIFIER "x-0x%" G_GINT64_MODIFIER
                              "x holds no 2 MiB-aligned address; make it larger",
                              base, base + size);
    if (msg == NULL)
        return 0;
    if (why != NULL)
        *why = msg;
    else
        g_free(msg);
    return -EINVAL;
}

struct ranges *ranges_new(uint64_t base, uint64_t size)
{
    struct ranges *r = g_new0(struct ranges, 1);

    r->base = base;
    r->end = base + size;
    r->used = g_array_new(FALSE, FALSE, sizeof(struct range));
    return r;
}

void ranges_free(struct ranges *r)
{
    if (r == NULL)
        return;
    g_array_free(r->used, TRUE);
    g_free(r);
}

int ranges_pool_size(uint64_t requested, uint64_t default_size, uint64_t max_size, uint64_t *out)
{
    uint64_t want = requested != 0 ? requested : default_size;

    if (want == 0 || want > max_size)
        return -EINVAL;
    if (want > UINT64_MAX - RANGES_POOL_UNIT)
        return -EINVAL;
    *out = align_up(want, RANGES_POOL_UNIT);
    return 0;
}

/* Index of the first reserved range that ends after `addr` (where a range at addr would go). */
static guint slot_for(const struct ranges *r, uint64_t addr)
{
    guint i = 0;

    while (i < r->used->len) {
        const struct range *u = &g_array_index(r->used, struct range, i);
        if (u->base + u->size > addr)
            break;
        i++;
    }
    return i;
}

static int overlaps(uint64_t base, uint64_t size, uint64_t obase, uint64_t osize)
{
    return base < obase + osize && obase < base + size;
}

/* The end of a reserved range or of a span of `avoid` that [base, base + size) runs into; 0 if
 * none does. */
static uint64_t conflict(const struct ranges *r, uint64_t base, uint64_t size,
                         const struct ranges_span *avoid, size_t navoid)
{
    for (guint i = 0; i < r->used->len; i++) {
        const struct range *u = &g_array_index(r->used, struct range, i);
        if (u->base >= base + size)
            break;
        if (overlaps(base, size, u->base, u->size))
            return u->base + u->size;
    }
    for (size_t i = 0; i < navoid; i++)
        if (avoid[i].size > 0 && overlaps(base, size, avoid[i].base, avoid[i].size))
            return avoid[i].base + avoid[i].size;
    return 0;
}

int ranges_alloc_avoiding(struct ranges *r, uint64_t size, uint64_t want_base,
                          const struct ranges_span *avoid, size_t navoid, uint64_t *base)
{
    struct range nr = {.size = size};
    uint64_t hit;

    if (size == 0)
        return -EINVAL;
    if (want_base != 0) {
        if (want_base % RANGES_ALIGN != 0)
            return -EINVAL;
        if (want_base < r->base || want_base > r->end || size > r->end - want_base ||
            conflict(r, want_base, size, avoid, navoid) != 0)
            return -EADDRINUSE;
        nr.base = want_base;
    } else {
        /* First fit: each conflict moves the candidate past the span it hit, so every span is
         * passed at most once. */
        uint64_t cand = align_up(r->base, RANGES_ALIGN);
        for (;;) {
            if (cand >= r->end || size > r->end - cand)
                return -ENOMEM;
            hit = conflict(r, cand, size, avoid, navoid);
            if (hit == 0)
                break;
            cand = align_up(hit, RANGES_ALIGN);
        }
        nr.base = cand;
    }
    g_array_insert_val(r->used, slot_for(r, nr.base), nr);
    *base = nr.base;
    return 0;
}

int ranges_alloc(struct ranges *r, uint64_t size, uint64_t want_base, uint64_t *base)
{
    return ranges_alloc_avoiding(r, size, want_base, NULL, 0, base);
}

int ranges_release(struct ranges *r, uint64_t base)
{
    for (guint i = 0; i < r->used->len; i++) {
        if (g_array_index(r->used, struct range, i).base == base) {
            g_array_remove_index(r->used, i);
            return 0;
        }
    }
    return -ENOENT;
}

size_t ranges_count(const struct ranges *r)
{
    return r->used->len;
}

uint64_t ranges_window_base(const struct ranges *r)
{
    return r->base;
}

uint64_t ranges_window_size(const struct ranges *r)
{
    return r->end - r->base;
}
