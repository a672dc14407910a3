/* agnocast.hpp: the C++17 binding of agnocast.h, header-only: RAII handles, loans, messages. */
#ifndef AGNOCAST_HPP
#define AGNOCAST_HPP

/*
 * Overview, in the order a program uses it (agnocast.h explains the model underneath).
 *
 *   agnocast::Context ctx;                                  // one per process
 *   auto pub = ctx.create_publisher<Image>("/camera", 10);
 *   auto msg = pub.loan();                                  // Image built in shared memory
 *   msg->pixels.resize(640 * 480);                          // std::pmr member: in the message
 *   pub.publish(std::move(msg));                            // consumed; nothing copied
 *
 *   auto sub = ctx.create_subscription<Image>("/camera", 10,
 *       [](const agnocast::Message<Image> &m) { use(m->pixels); });
 *   ctx.spin();                                             // or fd() + dispatch(), or a
 *                                                           // SpinThread, or take()
 *
 * WHAT A MESSAGE TYPE T MAY HOLD. A message is built once in the publisher's segment and read
 * in place by every subscriber, at the same address, read-only. So:
 *  - It is freed as one block: the message and everything allocated for it go back to the
 *    pool together when the last subscriber lets go. T's destructor never runs in a subscriber
 *    and not after publish; it runs only when a loan is dropped unpublished.
 *  - It must not own or point to memory outside the message: every pointer in it must point
 *    into the message (the loan block or its nested allocations), because nothing else is
 *    mapped at that address in a subscriber. No vtable pointer (the address of a vtable is
 *    the publisher's), no std::string / std::vector with the default allocator (their buffers
 *    would be in the publisher's private heap), no file descriptors, no handles.
 *  - alignof(T) <= 16 (the alignment of a loan).
 * Three kinds of types satisfy this, and agnocast::is_message<T> says which T is accepted
 * (Publisher<T> and Subscription<T> static_assert it):
 *  1. Trivially copyable types (plain structs, arrays, raw pointers filled with Loan::alloc()):
 *     is_message is true.
 *  2. Allocator-aware types with a std::pmr::polymorphic_allocator (they declare
 *     `using allocator_type = std::pmr::polymorphic_allocator<...>` and take it in a
 *     constructor, as std::pmr::vector and std::pmr::string do): is_message is true, and
 *     Publisher::loan() passes them an allocator bound to the loan, so their std::pmr members
 *     allocate inside the message. T must hand that allocator to every such member (a member
 *     it forgets allocates from the default resource, the private heap: the compiler cannot
 *     see this, the subscriber's agnocast_message_contains() check can). Construction follows
 *     the uses-allocator convention: T(std::allocator_arg, alloc, args...) if T has it, else
 *     T(args..., alloc).
 *  3. Types built under the heap hook (plain std::vector, std::string filled between loan and
 *     publish with LD_PRELOAD=libagnocast_heaphook.so; docs/heaphook.md): nothing in the type
 *     tells, so the program says so by specializing
 *        template <> struct agnocast::is_message<MyType> : std::true_type {};
 *     and answers for it: without the hook preloaded those buffers land in the private heap.
 * Polymorphic types and over-aligned types are refused whatever is_message says.
 *
 * ERRORS are exceptions: agnocast::Error, a std::system_error whose code() is the errno
 * (std::generic_category) and whose what() carries the library's sentence
 * (agnocast_last_error(): what went wrong and what to do). Why exceptions and not error_code
 * overloads: the handles are RAII, so construction is where most failures happen (no broker,
 * bad topic, pool full), and a constructor can only report by throwing; a loan is an object
 * that either exists or not; and the pmr allocation inside a std::pmr::vector::resize() has
 * no other way out. "No message" is not an error (take() returns an empty Message), nor is a
 * timeout (wait_matched() returns false). Destructors never throw: a failure there is ignored
 * (the C library has already logged what it could not return).
 *
 * CALLBACK EXCEPTIONS never unwind through the C library: the trampoline catches everything.
 * The first exception a callback throws is kept in the context and rethrown, on the
 * dispatching thread, by the dispatch(), spin_once() or spin() that ran it; spin() stops
 * early for it (the current round of callbacks finishes first). Later exceptions of the same
 * round are dropped (a second one cannot be thrown while the first is pending). A SpinThread
 * keeps it for join().
 *
 * OWNERSHIP. Context, Publisher, Subscription and Loan are move-only (a SpinThread stays where
 * it was made); Message is copyable, every copy sharing one hold on the received message, given
 * back when the last copy goes. Publishers, subscriptions, loans and received messages keep the
 * process's context alive (it is freed when the last of them goes), so destruction order cannot
 * free the context under them; a moved-from handle may only be destroyed or assigned to (other
 * calls throw Error(EINVAL)). One context per process (the C rule): a second Context while anything
 * keeps the first alive throws Error(EBUSY).
 *
 * THREADS, per object, as in agnocast.h:
 *  - Context: fd(), stop(), set_busy_poll(), pool_usage() from any thread; dispatch(),
 *    spin(), spin_once() on one thread at a time, the dispatching thread, never from a
 *    callback.
 *  - Publisher: every call from any thread. Loan: one thread at a time (it may be moved to
 *    another thread).
 *  - Subscription: take() and the counters from any thread. Destroying a callback
 *    subscription while another thread dispatches is a race the C library does not allow:
 *    stop that thread first (declare a SpinThread after the subscriptions it serves, so it is
 *    destroyed first); the destructor detects the case and calls std::terminate() rather than
 *    free a subscription under a running callback. A callback may destroy any Subscription,
 *    its own included (the callable itself is destroyed after the callback returns).
 *  - Message: any thread, also copies on several threads at once.
 *
 * fork(): as in agnocast.h, the child's inherited handles are invalid. Destroying them there
 * frees nothing in the parent; any other call throws Error(ECHILD).
 */

#include <agnocast.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <climits>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <memory>
#include <memory_resource>
#include <new>
#include <string>
#include <system_error>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

namespace agnocast
{

/* Flags for publishers and subscriptions (agnocast.h, enum agnocast_flags). */
inline constexpr unsigned transient_local = AGNOCAST_TRANSIENT_LOCAL;
inline constexpr unsigned reliable = AGNOCAST_RELIABLE;
inline constexpr unsigned ignore_local = AGNOCAST_IGNORE_LOCAL;

/* No limit, for spin(), spin_once() and wait_matched(). */
inline constexpr std::chrono::milliseconds forever{-1};

/* Tag for Publisher::loan(default_init): T is default-initialized, not value-initialized, so a
 * large flat message is not zero-filled first. */
struct default_init_t {
    explicit default_init_t() = default;
};
inline constexpr default_init_t default_init{};

/* A failure of the C library: code() is the errno, what() names the call and gives the
 * library's sentence. */
class Error : public std::system_error
{
  public:
    Error(int errnum, const std::string &what)
        : std::system_error(errnum, std::generic_category(), what)
    {
    }
    int errnum() const noexcept
    {
        return code().value();
    }
};

/* The allocator a loan hands to allocator-aware message types. */
using allocator = std::pmr::polymorphic_allocator<std::byte>;

/* Whether T may be a message type; see "What a message type T may hold" above. Specialize it
 * (std::true_type) only for a type built under the heap hook. */
template <class T>
struct is_message
    : std::bool_constant<std::is_trivially_copyable_v<T> || std::uses_allocator_v<T, allocator>> {
};
template <class T> inline constexpr bool is_message_v = is_message<T>::value;

namespace detail
{

template <class T> inline constexpr bool always_false = false;

template <class T> constexpr void check_message_type()
{
    static_assert(!std::is_reference_v<T> && !std::is_const_v<T> && !std::is_volatile_v<T>,
                  "agnocast: the message type is a plain object type (the const is implied)");
    static_assert(!std::is_polymorphic_v<T>,
                  "agnocast: a message type must not be polymorphic: its vtable pointer is an "
                  "address in the publisher's executable, not valid in a subscriber");
    static_assert(alignof(T) <= 16, "agnocast: a loan is 16-byte aligned; alignof(T) > 16");
    static_assert(is_message_v<T>,
                  "agnocast: T is neither trivially copyable nor allocator-aware with "
                  "std::pmr::polymorphic_allocator, so it may own memory outside the message; "
                  "give it std::pmr members and an allocator_type, or, for a type built under "
                  "the heap hook, specialize agnocast::is_message<T> (see agnocast.hpp)");
}

/* Throws agnocast::Error for a negative return of the C library, with the calling thread's
 * last error sentence (it is per thread, so it is still this call's). */
[[noreturn]] inline void raise(int r, const char *what)
{
    const char *detail = agnocast_last_error();
    std::string s(what);
    s += ": ";
    s += (detail && *detail) ? detail : agnocast_strerror(r);
    throw Error(-r, s);
}

inline int check(int r, const char *what)
{
    if (r < 0)
        raise(r, what);
    return r;
}

inline int to_ms(std::chrono::milliseconds t)
{
    if (t.count() < 0)
        return -1;
    return t.count() > INT_MAX ? INT_MAX : static_cast<int>(t.count());
}

template <class P> P *need(P *p, const char *what)
{
    if (!p)
        throw Error(EINVAL, std::string(what) + ": called on a moved-from (empty) handle");
    return p;
}

/* What every handle of a process shares: the C context, and the state of its dispatching
 * thread. Freed (agnocast_context_free) when the last handle goes. */
struct ContextCore {
    agnocast_context *ctx = nullptr;
    /* The thread inside dispatch/spin/spin_once, for the subscription destructor's check. */
    std::atomic<std::thread::id> dispatcher{};
    /* Dispatching thread only: */
    std::exception_ptr pending;                /* the first exception a callback threw */
    bool spinning = false;                     /* in spin(): an exception stops it */
    std::vector<std::shared_ptr<void>> doomed; /* subscriptions destroyed in a callback */
    unsigned depth = 0;                        /* of the dispatch wrappers (0 or 1) */

    ContextCore()
    {
        check(agnocast_context_new(&ctx), "agnocast::Context");
    }
    ContextCore(const ContextCore &) = delete;
    ContextCore &operator=(const ContextCore &) = delete;
    ~ContextCore()
    {
        agnocast_context_free(ctx);
    }

    void callback_failed(std::exception_ptr e) noexcept
    {
        if (!pending)
            pending = std::move(e);
        if (spinning)
            agnocast_context_stop(ctx);
    }

    /* Runs one C dispatch call and then what it left behind: subscriptions destroyed in a
     * callback, and the exception a callback threw. */
    template <class F> int run(F &&call, const char *what)
    {
        struct Scope {
            ContextCore *c;
            ~Scope()
            {
                c->dispatcher.store(std::thread::id(), std::memory_order_relaxed);
                c->spinning = false;
                c->depth--;
                c->doomed.clear();
            }
        };
        if (depth)
            throw Error(EDEADLK, std::string(what) + ": called from a callback (agnocast.h: "
                                                     "never dispatch from a callback)");
        depth++;
        dispatcher.store(std::this_thread::get_id(), std::memory_order_relaxed);
        int r;
        {
            Scope scope{this};
            r = call();
        }
        if (pending) {
            std::exception_ptr e = std::move(pending);
            pending = nullptr;
            std::rethrow_exception(e);
        }
        return check(r, what);
    }

    int dispatch()
    {
        return run([this] { return agnocast_context_dispatch(ctx); },
                   "agnocast::Context::dispatch");
    }
    void spin(int ms)
    {
        run(
            [this, ms] {
                spinning = true;
                return agnocast_context_spin(ctx, ms);
            },
            "agnocast::Context::spin");
    }
    int spin_once(int ms)
    {
        return run([this, ms] { return agnocast_context_spin_once(ctx, ms); },
                   "agnocast::Context::spin_once");
    }
};

/* A shared hold on a received message: refs copies of Message point at it; the last one
 * gives the message back. `ctx` keeps the context alive while a message outlives its
 * callback or was taken. */
struct Hold {
    std::atomic<long> refs{1};
    agnocast_message *msg = nullptr;
    std::shared_ptr<ContextCore> ctx;
};

inline void hold_unref(Hold *h) noexcept
{
    if (h->refs.fetch_sub(1, std::memory_order_acq_rel) == 1) {
        agnocast_message_release(h->msg);
        delete h;
    }
}

/* The callback path's hold, reused from one message to the next on the dispatching thread as
 * long as no copy of a Message outlived its callback: no allocation per message. */
inline std::unique_ptr<Hold> &spare_hold() noexcept
{
    thread_local std::unique_ptr<Hold> spare;
    return spare;
}

struct PubCore;
template <class T, class F> struct CallbackSub;

/* The memory resource of one loan: allocations become nested allocations of the message
 * (agnocast_loan_alloc). It lives inside the loan itself, so the resource pointer every
 * std::pmr container keeps points into the message too. Deallocation does nothing: the
 * message and its nested allocations are freed as one block. */
class LoanResource final : public std::pmr::memory_resource
{
  public:
    LoanResource(agnocast_publisher *pub, void *msg) : pub_(pub), msg_(msg)
    {
    }

  private:
    void *do_allocate(std::size_t bytes, std::size_t align) override
    {
        void *p;
        std::size_t extra = align > 16 ? align - 16 : 0;

        if (bytes == 0)
            bytes = 1;
        if (bytes > SIZE_MAX - extra)
            throw Error(ENOMEM, "agnocast::Loan: allocation size overflows");
        check(agnocast_loan_alloc(pub_, msg_, bytes + extra, &p), "agnocast::Loan allocation");
        if (extra) {
            std::uintptr_t a = reinterpret_cast<std::uintptr_t>(p);
            p = reinterpret_cast<void *>((a + align - 1) & ~(std::uintptr_t)(align - 1));
        }
        return p;
    }
    void do_deallocate(void *, std::size_t, std::size_t) override
    {
    }
    bool do_is_equal(const std::pmr::memory_resource &other) const noexcept override
    {
        return this == &other;
    }

    agnocast_publisher *pub_;
    void *msg_;
};

struct PubCore {
    std::shared_ptr<ContextCore> ctx;
    agnocast_publisher *pub = nullptr;

    ~PubCore()
    {
        agnocast_publisher_free(pub);
    }
};

struct SubCore {
    std::shared_ptr<ContextCore> ctx;
    agnocast_subscription *sub = nullptr;
    std::atomic<std::uint64_t> wrong_size{0};
    bool in_callback = false; /* dispatching thread only */

    explicit SubCore(std::shared_ptr<ContextCore> c) : ctx(std::move(c))
    {
    }
    SubCore(const SubCore &) = delete;
    SubCore &operator=(const SubCore &) = delete;
    virtual ~SubCore()
    {
        agnocast_subscription_free(sub);
    }
    virtual bool has_callback() const noexcept
    {
        return false;
    }
};

} // namespace detail

/* A received message: a shared, read-only hold (const T& only), like Agnocast's
 * ipc_shared_ptr<const T>. Empty when default-constructed, moved from, reset, or returned by a
 * take() that found nothing. Copies share the hold; the last one gives the message back to the
 * publisher (from any thread). */
template <class T> class Message
{
  public:
    Message() noexcept = default;
    Message(const Message &o) noexcept : h_(o.h_)
    {
        if (h_)
            h_->refs.fetch_add(1, std::memory_order_relaxed);
    }
    Message(Message &&o) noexcept : h_(std::exchange(o.h_, nullptr))
    {
    }
    Message &operator=(Message o) noexcept
    {
        std::swap(h_, o.h_);
        return *this;
    }
    ~Message()
    {
        reset();
    }

    /* Lets go of this copy's share (the message goes back when no copy holds it). */
    void reset() noexcept
    {
        if (Hold *h = std::exchange(h_, nullptr))
            detail::hold_unref(h);
    }

    explicit operator bool() const noexcept
    {
        return h_ != nullptr;
    }
    bool has_value() const noexcept
    {
        return h_ != nullptr;
    }
    const T *get() const noexcept
    {
        return h_ ? static_cast<const T *>(agnocast_message_data(h_->msg)) : nullptr;
    }
    const T &operator*() const noexcept
    {
        return *get();
    }
    const T *operator->() const noexcept
    {
        return get();
    }
    /* How many copies share the hold (0 when empty). */
    long use_count() const noexcept
    {
        return h_ ? h_->refs.load(std::memory_order_relaxed) : 0;
    }

    /* The bytes the publisher loaned (>= sizeof(T)); publisher, number and publish time. */
    std::size_t size() const noexcept
    {
        return h_ ? agnocast_message_size(h_->msg) : 0;
    }
    pid_t publisher_pid() const noexcept
    {
        return h_ ? agnocast_message_publisher_pid(h_->msg) : 0;
    }
    std::uint32_t publisher_index() const noexcept
    {
        return h_ ? agnocast_message_publisher_index(h_->msg) : 0;
    }
    std::uint64_t sequence() const noexcept
    {
        return h_ ? agnocast_message_sequence(h_->msg) : 0;
    }
    std::uint64_t timestamp_ns() const noexcept
    {
        return h_ ? agnocast_message_timestamp_ns(h_->msg) : 0;
    }
    /* Whether [p, p + len) lies in the publisher's memory, so a pointer found in the message
     * may be followed (publishers are untrusted: check before reading nested data). */
    bool contains(const void *p, std::size_t len) const noexcept
    {
        return h_ && agnocast_message_contains(h_->msg, p, len);
    }
    /* The same for a contiguous container member (std::pmr::vector, std::pmr::string, ...). */
    template <class C> bool contains_range(const C &c) const noexcept
    {
        using V = std::remove_cv_t<std::remove_reference_t<decltype(*c.data())>>;
        if (c.size() > SIZE_MAX / sizeof(V))
            return false;
        return contains(c.data(), c.size() * sizeof(V));
    }
    const agnocast_message *raw() const noexcept
    {
        return h_ ? h_->msg : nullptr;
    }

  private:
    using Hold = detail::Hold;
    template <class> friend class Subscription;
    template <class, class> friend struct detail::CallbackSub;
    explicit Message(Hold *h) noexcept : h_(h)
    {
    }
    Hold *detach() noexcept
    {
        return std::exchange(h_, nullptr);
    }

    Hold *h_ = nullptr;
};

/* Agnocast's name for the received message pointer: ipc_shared_ptr<const T> (and <T>) is
 * Message<T>, so callbacks written for Agnocast keep their parameter type. */
template <class T> using ipc_shared_ptr = Message<std::remove_const_t<T>>;

template <class T> class Publisher;
template <class T> class Subscription;

/* A loaned message under construction: T lives in the publisher's segment. Move-only;
 * Publisher::publish() consumes it; destroying it unpublished runs ~T and returns the memory
 * (agnocast_publisher_drop). One thread at a time. */
template <class T> class Loan
{
  public:
    Loan() noexcept = default;
    Loan(Loan &&o) noexcept
        : pub_(std::move(o.pub_)), p_(std::exchange(o.p_, nullptr)),
          res_(std::exchange(o.res_, nullptr))
    {
    }
    Loan &operator=(Loan &&o) noexcept
    {
        if (this != &o) {
            drop();
            pub_ = std::move(o.pub_);
            p_ = std::exchange(o.p_, nullptr);
            res_ = std::exchange(o.res_, nullptr);
        }
        return *this;
    }
    Loan(const Loan &) = delete;
    Loan &operator=(const Loan &) = delete;
    ~Loan()
    {
        drop();
    }

    explicit operator bool() const noexcept
    {
        return p_ != nullptr;
    }
    T *get() const noexcept
    {
        return p_;
    }
    T &operator*() const noexcept
    {
        return *p_;
    }
    T *operator->() const noexcept
    {
        return p_;
    }

    /* The memory resource bound to this loan: what it allocates is part of the message. For
     * members built after loan(), e.g. std::pmr::string(s, loan.resource()). */
    std::pmr::memory_resource *resource()
    {
        detail::need(p_, "agnocast::Loan::resource");
        if (!res_) {
            void *m;
            detail::check(agnocast_loan_alloc(pub_->pub, p_, sizeof(detail::LoanResource), &m),
                          "agnocast::Loan::resource");
            res_ = ::new (m) detail::LoanResource(pub_->pub, p_);
        }
        return res_;
    }
    agnocast::allocator get_allocator()
    {
        return agnocast::allocator(resource());
    }

    /* `bytes` of raw memory in the message (16-byte aligned, or `align` if larger), for raw
     * pointers in flat message types. */
    void *alloc(std::size_t bytes, std::size_t align = 16)
    {
        return resource()->allocate(bytes, align);
    }
    /* n value-initialized U in the message. */
    template <class U> U *alloc_array(std::size_t n)
    {
        static_assert(std::is_trivially_destructible_v<U>,
                      "agnocast::Loan::alloc_array: U's destructor would never run");
        if (n > SIZE_MAX / sizeof(U))
            throw Error(ENOMEM, "agnocast::Loan::alloc_array: size overflows");
        U *a = static_cast<U *>(alloc(n ? n * sizeof(U) : 1, alignof(U)));
        for (std::size_t i = 0; i < n; i++)
            ::new (static_cast<void *>(a + i)) U();
        return a;
    }

    /* Runs ~T and gives the loan back unpublished; the Loan is empty afterwards. */
    void drop() noexcept
    {
        if (T *p = std::exchange(p_, nullptr)) {
            p->~T();
            agnocast_publisher_drop(pub_->pub, p);
        }
        res_ = nullptr;
        pub_.reset();
    }

  private:
    friend class Publisher<T>;
    Loan(std::shared_ptr<detail::PubCore> pub, T *p, detail::LoanResource *res) noexcept
        : pub_(std::move(pub)), p_(p), res_(res)
    {
    }
    void release() noexcept
    {
        p_ = nullptr;
        res_ = nullptr;
        pub_.reset();
    }

    std::shared_ptr<detail::PubCore> pub_;
    T *p_ = nullptr;
    detail::LoanResource *res_ = nullptr;
};

/* Publishes messages of type T on one topic. Move-only; any thread. */
template <class T> class Publisher
{
  public:
    Publisher() noexcept = default;
    Publisher(class Context &ctx, const std::string &topic, unsigned depth = 10,
              unsigned flags = 0);

    /* A loan with T constructed in it from args (allocator-aware T also gets the loan's
     * allocator; see the top of this header). Throws Error(ENOMEM) when the pool is full and
     * cannot grow (retry after subscribers release messages), or what T's constructor threw
     * (the loan is then returned). */
    template <class... Args> Loan<T> loan(Args &&...args)
    {
        void *m = raw_loan();
        detail::LoanResource *res = nullptr;
        try {
            if constexpr (std::uses_allocator_v<T, allocator>) {
                void *rm;
                detail::check(agnocast_loan_alloc(core_->pub, m, sizeof(*res), &rm),
                              "agnocast::Publisher::loan");
                res = ::new (rm) detail::LoanResource(core_->pub, m);
                allocator a(res);
                if constexpr (std::is_constructible_v<T, std::allocator_arg_t, const allocator &,
                                                      Args...>)
                    ::new (m) T(std::allocator_arg, a, std::forward<Args>(args)...);
                else if constexpr (std::is_constructible_v<T, Args..., const allocator &>)
                    ::new (m) T(std::forward<Args>(args)..., a);
                else
                    static_assert(detail::always_false<T>,
                                  "agnocast: T has an allocator_type but no constructor taking "
                                  "(std::allocator_arg, alloc, args...) or (args..., alloc)");
            } else {
                ::new (m) T(std::forward<Args>(args)...);
            }
        } catch (...) {
            agnocast_publisher_drop(core_->pub, m);
            throw;
        }
        return Loan<T>(core_, static_cast<T *>(m), res);
    }
    /* A loan with T default-initialized (trivial members keep what the pool left there). */
    Loan<T> loan(default_init_t)
    {
        void *m = raw_loan();
        return Loan<T>(core_, ::new (m) T, nullptr);
    }

    /* Hands the loan to the subscribers and empties it; T's destructor does not run. Throws
     * Error(EINVAL) for an empty loan or one of another publisher (the loan is left as it
     * was). */
    void publish(Loan<T> &&loan)
    {
        if (!loan || loan.pub_ != core_ || !core_)
            throw Error(EINVAL, "agnocast::Publisher::publish: an empty loan, or one of another "
                                "publisher");
        detail::check(agnocast_publisher_publish(core_->pub, loan.p_),
                      "agnocast::Publisher::publish");
        loan.release();
    }

    /* Messages published (the number of the last one). */
    std::uint64_t published() const
    {
        return agnocast_publisher_published(pub());
    }
    /* Subscriptions this publisher reaches now. */
    int subscription_count() const
    {
        return detail::check(agnocast_publisher_subscription_count(pub()),
                             "agnocast::Publisher::subscription_count");
    }
    /* Waits until it reaches at least n subscriptions: true, or false on timeout. Never from
     * the log callback. */
    bool wait_matched(unsigned n, std::chrono::milliseconds timeout = forever) const
    {
        int r = agnocast_publisher_wait_matched(pub(), n, detail::to_ms(timeout));
        if (r == -ETIMEDOUT)
            return false;
        detail::check(r, "agnocast::Publisher::wait_matched");
        return true;
    }
    agnocast_publisher *get() const noexcept
    {
        return core_ ? core_->pub : nullptr;
    }
    explicit operator bool() const noexcept
    {
        return core_ != nullptr;
    }

  private:
    agnocast_publisher *pub() const
    {
        return detail::need(core_.get(), "agnocast::Publisher")->pub;
    }
    void *raw_loan()
    {
        detail::check_message_type<T>();
        void *m;
        detail::check(agnocast_publisher_loan(pub(), sizeof(T), &m), "agnocast::Publisher::loan");
        return m;
    }

    std::shared_ptr<detail::PubCore> core_;
};

namespace detail
{

/* A callback subscription: the callable and the C trampoline that calls it. */
template <class T, class F> struct CallbackSub final : SubCore {
    F fn;

    CallbackSub(std::shared_ptr<ContextCore> c, F f) : SubCore(std::move(c)), fn(std::move(f))
    {
    }
    bool has_callback() const noexcept override
    {
        return true;
    }

    static void trampoline(agnocast_subscription *, agnocast_message *msg, void *ud) noexcept
    {
        auto *self = static_cast<CallbackSub *>(ud);
        ContextCore *ctx = self->ctx.get();

        if (agnocast_message_size(msg) < sizeof(T)) {
            self->wrong_size.fetch_add(1, std::memory_order_relaxed);
            return;
        }
        self->in_callback = true;
        try {
            if constexpr (std::is_invocable_v<F &, const Message<T> &>) {
                deliver(self, msg);
            } else {
                static_assert(std::is_invocable_v<F &, const T &>,
                              "agnocast: a callback takes (const agnocast::Message<T> &), "
                              "(agnocast::Message<T>) or (const T &)");
                self->fn(*static_cast<const T *>(agnocast_message_data(msg)));
            }
        } catch (...) {
            ctx->callback_failed(std::current_exception());
        }
        self->in_callback = false;
    }

    /* The Message path: a hold from the spare; after the callback, a copy still alive means
     * the message outlives the callback, so it is retained (still inside the C callback, as
     * agnocast_message_retain requires) and the hold becomes the copies'. */
    static void deliver(CallbackSub *self, agnocast_message *msg)
    {
        struct Guard {
            Message<T> m;
            CallbackSub *self;
            ~Guard()
            {
                Hold *h = m.detach();
                if (h->refs.load(std::memory_order_acquire) == 1) {
                    h->msg = nullptr;
                    spare_hold().reset(h);
                    return;
                }
                h->ctx = self->ctx;
                agnocast_message_retain(h->msg);
                hold_unref(h);
            }
        };
        std::unique_ptr<Hold> &spare = spare_hold();
        Hold *h = spare ? spare.release() : new Hold;
        h->refs.store(1, std::memory_order_relaxed);
        h->msg = msg;
        Guard g{Message<T>(h), self};
        self->fn(static_cast<const Message<T> &>(g.m));
    }
};

} // namespace detail

/* The one process context. Move-only. */
class Context
{
  public:
    /* Connects to the broker (agnocast_context_new): throws Error on failure. */
    Context() : core_(std::make_shared<detail::ContextCore>())
    {
    }
    Context(Context &&) noexcept = default;
    Context &operator=(Context &&) noexcept = default;
    Context(const Context &) = delete;
    Context &operator=(const Context &) = delete;

    /* For an application's own loop: poll for POLLIN, then dispatch(). Any thread. */
    int fd() const
    {
        return detail::check(agnocast_context_fd(ctx()), "agnocast::Context::fd");
    }
    /* Runs the callbacks for what is available now; how many ran. Never blocks. Rethrows the
     * first exception a callback threw. */
    int dispatch()
    {
        return core()->dispatch();
    }
    /* Dispatches until stop() or the timeout (forever: none), or until a callback throws
     * (rethrown here). */
    void spin(std::chrono::milliseconds timeout = forever)
    {
        core()->spin(detail::to_ms(timeout));
    }
    /* One round: dispatches what is there, or waits up to the timeout for a wake-up and
     * dispatches once; how many callbacks ran (0: timeout, stop, or only take subscriptions
     * have something). */
    int spin_once(std::chrono::milliseconds timeout = forever)
    {
        return core()->spin_once(detail::to_ms(timeout));
    }
    /* Makes spin() return (or the next one, if none runs). Any thread, async-signal-safe. */
    void stop() const noexcept
    {
        if (core_)
            agnocast_context_stop(core_->ctx);
    }
    void set_busy_poll(bool on)
    {
        detail::check(agnocast_context_set_busy_poll(ctx(), on ? 1 : 0),
                      "agnocast::Context::set_busy_poll");
    }
    struct PoolUsage {
        std::size_t used, capacity;
    };
    PoolUsage pool_usage() const
    {
        PoolUsage u{};
        detail::check(agnocast_context_pool_usage(ctx(), &u.used, &u.capacity),
                      "agnocast::Context::pool_usage");
        return u;
    }

    template <class T>
    Publisher<T> create_publisher(const std::string &topic, unsigned depth = 10, unsigned flags = 0)
    {
        return Publisher<T>(*this, topic, depth, flags);
    }
    /* A callback subscription: callback(const Message<T> &) (or Message<T> by value: the
     * message may then outlive the callback), or callback(const T &) (no hold at all). */
    template <class T, class F>
    Subscription<T> create_subscription(const std::string &topic, unsigned depth, F &&callback,
                                        unsigned flags = 0);
    /* A take subscription (no callback): read it with take(). */
    template <class T>
    Subscription<T> create_subscription(const std::string &topic, unsigned depth = 10,
                                        unsigned flags = 0);

    agnocast_context *get() const noexcept
    {
        return core_ ? core_->ctx : nullptr;
    }
    explicit operator bool() const noexcept
    {
        return core_ != nullptr;
    }

  private:
    template <class> friend class Publisher;
    template <class> friend class Subscription;
    friend class SpinThread;
    detail::ContextCore *core() const
    {
        return detail::need(core_.get(), "agnocast::Context");
    }
    agnocast_context *ctx() const
    {
        return core()->ctx;
    }

    std::shared_ptr<detail::ContextCore> core_;
};

template <class T>
Publisher<T>::Publisher(Context &ctx, const std::string &topic, unsigned depth, unsigned flags)
{
    detail::check_message_type<T>();
    auto core = std::make_shared<detail::PubCore>();
    core->ctx = ctx.core_;
    detail::check(agnocast_publisher_new(ctx.ctx(), topic.c_str(), depth, flags, &core->pub),
                  "agnocast::Publisher");
    core_ = std::move(core);
}

/* Receives messages of type T on one topic, by callback or by take(). Move-only. */
template <class T> class Subscription
{
  public:
    Subscription() noexcept = default;
    /* A take subscription. */
    Subscription(Context &ctx, const std::string &topic, unsigned depth = 10, unsigned flags = 0)
    {
        detail::check_message_type<T>();
        auto core = std::make_shared<detail::SubCore>(ctx.core_);
        detail::check(agnocast_subscription_new(ctx.ctx(), topic.c_str(), depth, flags, nullptr,
                                                nullptr, &core->sub),
                      "agnocast::Subscription");
        core_ = std::move(core);
    }
    /* A callback subscription; see Context::create_subscription. */
    template <class F, class = std::enable_if_t<!std::is_integral_v<std::decay_t<F>>>>
    Subscription(Context &ctx, const std::string &topic, unsigned depth, F &&callback,
                 unsigned flags = 0)
    {
        detail::check_message_type<T>();
        using Sub = detail::CallbackSub<T, std::decay_t<F>>;
        auto core = std::make_shared<Sub>(ctx.core_, std::forward<F>(callback));
        detail::check(agnocast_subscription_new(ctx.ctx(), topic.c_str(), depth, flags,
                                                &Sub::trampoline, core.get(), &core->sub),
                      "agnocast::Subscription");
        core_ = std::move(core);
    }
    Subscription(Subscription &&) noexcept = default;
    Subscription &operator=(Subscription &&o) noexcept
    {
        if (this != &o) {
            destroy();
            core_ = std::move(o.core_);
        }
        return *this;
    }
    Subscription(const Subscription &) = delete;
    Subscription &operator=(const Subscription &) = delete;
    ~Subscription()
    {
        destroy();
    }

    /* The oldest message not yet seen, or an empty Message if there is none. Messages smaller
     * than T (another type on the topic) are given back and counted in wrong_size(). */
    Message<T> take()
    {
        return take_with(agnocast_subscription_take, "agnocast::Subscription::take");
    }
    /* The newest one; older unseen ones count as missed. */
    Message<T> take_latest()
    {
        return take_with(agnocast_subscription_take_latest, "agnocast::Subscription::take_latest");
    }

    std::uint64_t received() const
    {
        return agnocast_subscription_received(sub());
    }
    std::uint64_t missed() const
    {
        return agnocast_subscription_missed(sub());
    }
    std::uint64_t corrupt() const
    {
        return agnocast_subscription_corrupt(sub());
    }
    std::uint64_t unreachable() const
    {
        return agnocast_subscription_unreachable(sub());
    }
    /* Messages not delivered because they were smaller than T. */
    std::uint64_t wrong_size() const
    {
        return detail::need(core_.get(), "agnocast::Subscription")
            ->wrong_size.load(std::memory_order_relaxed);
    }
    int publisher_count() const
    {
        return detail::check(agnocast_subscription_publisher_count(sub()),
                             "agnocast::Subscription::publisher_count");
    }
    bool wait_matched(unsigned n, std::chrono::milliseconds timeout = forever) const
    {
        int r = agnocast_subscription_wait_matched(sub(), n, detail::to_ms(timeout));
        if (r == -ETIMEDOUT)
            return false;
        detail::check(r, "agnocast::Subscription::wait_matched");
        return true;
    }
    agnocast_subscription *get() const noexcept
    {
        return core_ ? core_->sub : nullptr;
    }
    explicit operator bool() const noexcept
    {
        return core_ != nullptr;
    }

  private:
    agnocast_subscription *sub() const
    {
        return detail::need(core_.get(), "agnocast::Subscription")->sub;
    }

    template <class Take> Message<T> take_with(Take take_fn, const char *what)
    {
        agnocast_subscription *s = sub();
        for (;;) {
            agnocast_message *m;
            if (detail::check(take_fn(s, &m), what) == 0)
                return Message<T>();
            if (agnocast_message_size(m) < sizeof(T)) {
                core_->wrong_size.fetch_add(1, std::memory_order_relaxed);
                agnocast_message_release(m);
                continue;
            }
            auto *h = new (std::nothrow) detail::Hold;
            if (!h) {
                agnocast_message_release(m);
                throw std::bad_alloc();
            }
            h->msg = m;
            h->ctx = core_->ctx;
            return Message<T>(h);
        }
    }

    /* A callback subscription goes on the dispatching thread or while none dispatches (the C
     * rule); in its own callback, the callable must outlive the call, so the core is kept
     * until the dispatch returns. */
    void destroy() noexcept
    {
        if (!core_)
            return;
        detail::ContextCore *c = core_->ctx.get();
        if (core_->has_callback()) {
            std::thread::id d = c->dispatcher.load(std::memory_order_relaxed);
            if (d != std::thread::id() && d != std::this_thread::get_id()) {
                std::fputs("agnocast::Subscription: destroyed while another thread dispatches "
                           "(stop and join it first: agnocast.hpp, Threads)\n",
                           stderr);
                std::terminate();
            }
            if (d == std::this_thread::get_id()) {
                /* In a callback: no further callback of it runs after the free; the callable
                 * itself (maybe the one running now) lives until the dispatch returns. */
                agnocast_subscription_free(core_->sub);
                core_->sub = nullptr;
                try {
                    c->doomed.push_back(std::move(core_));
                } catch (...) {
                    /* Out of memory: leak the callable rather than destroy it while it runs. */
                    new (std::nothrow) std::shared_ptr<detail::SubCore>(std::move(core_));
                }
                core_.reset();
                return;
            }
        }
        core_.reset();
    }

    std::shared_ptr<detail::SubCore> core_;
};

template <class T, class F>
Subscription<T> Context::create_subscription(const std::string &topic, unsigned depth, F &&callback,
                                             unsigned flags)
{
    return Subscription<T>(*this, topic, depth, std::forward<F>(callback), flags);
}

template <class T>
Subscription<T> Context::create_subscription(const std::string &topic, unsigned depth,
                                             unsigned flags)
{
    return Subscription<T>(*this, topic, depth, flags);
}

/* Spins a context on a thread of its own until stop() or destruction (which stops and joins).
 * Destroy it before the callback subscriptions it serves (declare it after them). */
class SpinThread
{
  public:
    explicit SpinThread(Context &ctx) : core_(ctx.core_)
    {
        detail::need(core_.get(), "agnocast::SpinThread");
        thread_ = std::thread([this] {
            try {
                core_->spin(-1);
            } catch (...) {
                error_ = std::current_exception();
            }
            done_.store(true, std::memory_order_release);
        });
    }
    SpinThread(const SpinThread &) = delete;
    SpinThread &operator=(const SpinThread &) = delete;
    ~SpinThread()
    {
        stop();
        if (thread_.joinable())
            thread_.join();
    }

    /* Asks the spin to return (a spin that already returned, for a callback's exception, is
     * left alone so that no stop is left over for a later spin). Any thread. */
    void stop() noexcept
    {
        if (!done_.load(std::memory_order_acquire))
            agnocast_context_stop(core_->ctx);
    }
    /* Waits for the thread; rethrows what ended the spin (a callback's exception). */
    void join()
    {
        if (thread_.joinable())
            thread_.join();
        if (error_) {
            std::exception_ptr e = std::move(error_);
            error_ = nullptr;
            std::rethrow_exception(e);
        }
    }
    /* Whether the spin has returned (stopped, or a callback threw). */
    bool done() const noexcept
    {
        return done_.load(std::memory_order_acquire);
    }

  private:
    std::shared_ptr<detail::ContextCore> core_;
    std::exception_ptr error_;
    std::atomic<bool> done_{false};
    std::thread thread_;
};

} // namespace agnocast

#endif
