// vbus for C++17: RAII handles and typed endpoints over the C API (vbus.h).
//
// Typed on codegen's descriptors (`vbus-codegen fbs --cpp`): a topic descriptor gives the key,
// the flatc table type (`message`) and the QoS; `vbus::message_traits<T>` gives a table's name,
// type hash and schema. Every payload is verified with flatc's generated verifier, on both ends.
//
// Errors: exceptions (vbus::Error, carrying the vbus_status and vbus_last_error()'s message).
// Constructors of RAII handles can only report failure by throwing, and C++17 has no
// std::expected; what is expected in normal operation is not an error here: a take or a wait
// that times out returns an empty std::optional, and a field without a value returns an empty
// std::optional. So the data path throws only on real faults (an invalid payload, a closed node).
//
// Thread safety: as the C API's (every handle may be used from any thread). A callback
// subscriber's function runs on a vbus thread, one sample at a time.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>

#include <flatbuffers/flatbuffers.h>

#include "vbus.h"

namespace vbus {

/// A table's bus identity; codegen specializes it for every topic, request and reply table.
template <class T> struct message_traits;

/// A failed vbus call: the status and the library's message.
class Error : public std::runtime_error {
 public:
  Error(vbus_status status, const std::string& message) : std::runtime_error(message), status_(status) {}
  vbus_status status() const noexcept { return status_; }

 private:
  vbus_status status_;
};

namespace detail {

inline void check(vbus_status s) {
  if (s != VBUS_OK) throw Error(s, vbus_last_error());
}

/// Calls that may time out: true on success, false on timeout; throws otherwise.
inline bool check_timeout(vbus_status s) {
  if (s == VBUS_ERR_TIMEOUT) return false;
  check(s);
  return true;
}

inline std::uint32_t millis(std::chrono::milliseconds t) {
  if (t.count() < 0) return 0;
  if (t.count() >= static_cast<long long>(VBUS_WAIT_FOREVER)) return VBUS_WAIT_FOREVER - 1;
  return static_cast<std::uint32_t>(t.count());
}

template <class T> bool verify(void*, const std::uint8_t* data, std::size_t len) {
  flatbuffers::Verifier v(data, len);
  return v.VerifyBuffer<T>(nullptr);
}

/// Owns one C handle and closes it with `Close` when destroyed. Move-only: every RAII class
/// below holds one, so none writes its own move operations or destructor.
template <class H, vbus_status (*Close)(H)> class Owned {
 public:
  Owned() = default;
  Owned(Owned&& o) noexcept : h_(std::exchange(o.h_, H{})) {}
  Owned& operator=(Owned&& o) noexcept {
    if (this != &o) {
      reset();
      h_ = std::exchange(o.h_, H{});
    }
    return *this;
  }
  Owned(const Owned&) = delete;
  Owned& operator=(const Owned&) = delete;
  ~Owned() { reset(); }

  H get() const noexcept { return h_; }
  /// Where a create function writes the new handle.
  H* out() noexcept { return &h_; }
  /// Give up ownership (the caller closes it).
  H release() noexcept { return std::exchange(h_, H{}); }
  void reset() noexcept {
    if (h_.id != 0) Close(std::exchange(h_, H{}));
  }

 private:
  H h_{};
};

inline vbus_status refuse_unanswered(vbus_request r) {
  return vbus_request_refuse(r, "the server dropped the request without replying");
}

/// The C descriptor of table `T`: its traits, verified by flatc's verifier of `T`.
template <class T> vbus_type type_of() {
  using tr = message_traits<T>;
  return vbus_type{tr::type_name, tr::type_hash, tr::schema, tr::schema_len, &verify<T>, nullptr};
}

}  // namespace detail

/// A node: one session, a name and a domain. Move-only; closed by the destructor.
class Node {
 public:
  /// Open from JSON5 text (empty: the defaults).
  explicit Node(const std::string& config_json5) {
    detail::check(vbus_node_open(config_json5.c_str(), h_.out()));
  }
  /// Open from a JSON5 file.
  static Node from_file(const std::string& path) {
    Node n;
    detail::check(vbus_node_open_file(path.c_str(), n.h_.out()));
    return n;
  }

  /// Close now (the destructor does it otherwise); endpoints stop receiving.
  void close() {
    if (h_.get().id != 0) detail::check(vbus_node_close(h_.release()));
  }
  vbus_node handle() const noexcept { return h_.get(); }

 private:
  Node() = default;
  detail::Owned<vbus_node, vbus_node_close> h_;
};

/// A received sample of table `T`, verified; its bytes live as long as this object.
template <class T> class Sample {
 public:
  explicit Sample(vbus_sample h) {
    *h_.out() = h;
    detail::check(vbus_sample_get(h, &info_));
  }

  /// The table, read in place.
  const T* get() const { return flatbuffers::GetRoot<T>(info_.data); }
  const T* operator->() const { return get(); }
  const std::uint8_t* data() const noexcept { return info_.data; }
  std::size_t size() const noexcept { return info_.len; }
  std::uint64_t seq() const noexcept { return info_.seq; }
  std::uint64_t source_time_ns() const noexcept { return info_.source_time_ns; }
  std::uint64_t publisher_id() const noexcept { return info_.publisher_id; }
  std::uint64_t latency_ns() const noexcept { return info_.latency_ns; }
  /// VBUS_PATH_SHARED_MEMORY or VBUS_PATH_ZENOH.
  std::uint8_t path() const noexcept { return info_.path; }

 private:
  detail::Owned<vbus_sample, vbus_sample_release> h_;
  vbus_sample_info info_{};
};

/// A sample seen inside a callback: valid during the call only.
template <class T> struct SampleView {
  const vbus_sample_info* info;
  const T* get() const { return flatbuffers::GetRoot<T>(info->data); }
  const T* operator->() const { return get(); }
  std::uint64_t seq() const noexcept { return info->seq; }
  std::uint64_t source_time_ns() const noexcept { return info->source_time_ns; }
  std::uint64_t publisher_id() const noexcept { return info->publisher_id; }
};

/// Publishes the topic `Topic` (a codegen descriptor). Move-only.
template <class Topic> class Publisher {
 public:
  using message = typename Topic::message;

  explicit Publisher(const Node& node) : Publisher(node, Topic::qos) {}
  /// With another QoS than the topic's.
  Publisher(const Node& node, const vbus_qos& qos) {
    vbus_type t = detail::type_of<message>();
    detail::check(vbus_publisher_create(node.handle(), Topic::key, &t, &qos, h_.out()));
  }

  /// Publish the finished buffer of `fbb`.
  void publish(const flatbuffers::FlatBufferBuilder& fbb) { publish(fbb.GetBufferPointer(), fbb.GetSize()); }
  /// Publish FlatBuffers bytes (verified first).
  void publish(const std::uint8_t* data, std::size_t len) { detail::check(vbus_publish(h_.get(), data, len)); }
  /// Build the table with `build(fbb)` (which returns its offset) and publish it; the builder
  /// is reused, so steady-state publishing does not allocate.
  template <class F> void publish_with(F&& build) {
    fbb_.Clear();
    flatbuffers::Offset<message> root = build(fbb_);
    fbb_.Finish(root);
    publish(fbb_);
  }
  /// Wait until a subscriber matches; false on timeout.
  bool wait_for_subscribers(std::chrono::milliseconds timeout) {
    return detail::check_timeout(vbus_publisher_wait_for_subscribers(h_.get(), detail::millis(timeout)));
  }
  vbus_stats stats() const {
    vbus_stats s{};
    detail::check(vbus_publisher_stats(h_.get(), &s));
    return s;
  }

 private:
  detail::Owned<vbus_publisher, vbus_publisher_close> h_;
  flatbuffers::FlatBufferBuilder fbb_{256};
};

/// The next event of a subscriber, if one came within the timeout.
inline std::optional<vbus_event> next_event(vbus_subscriber h, std::chrono::milliseconds timeout) {
  vbus_event e{};
  if (!detail::check_timeout(vbus_subscriber_next_event(h, detail::millis(timeout), &e))) return std::nullopt;
  return e;
}

/// Subscribes to `Topic`, queueing samples for take(). Move-only.
template <class Topic> class Subscriber {
 public:
  using message = typename Topic::message;

  explicit Subscriber(const Node& node) : Subscriber(node, Topic::qos) {}
  Subscriber(const Node& node, const vbus_qos& qos) {
    vbus_type t = detail::type_of<message>();
    detail::check(vbus_subscriber_create(node.handle(), Topic::key, &t, &qos, h_.out()));
  }

  /// The next sample, waiting at most `timeout`; empty on timeout. Throws vbus::Error with
  /// VBUS_ERR_CLOSED once the node is closed and the queue drained.
  std::optional<Sample<message>> take(std::chrono::milliseconds timeout) {
    vbus_sample s{};
    if (!detail::check_timeout(vbus_subscriber_take(h_.get(), detail::millis(timeout), &s))) return std::nullopt;
    return Sample<message>(s);
  }
  std::optional<vbus_event> next_event(std::chrono::milliseconds timeout) { return vbus::next_event(h_.get(), timeout); }
  vbus_stats stats() const {
    vbus_stats s{};
    detail::check(vbus_subscriber_stats(h_.get(), &s));
    return s;
  }

 private:
  detail::Owned<vbus_subscriber, vbus_subscriber_close> h_;
};

/// Subscribes to `Topic` with a function called for every sample on a vbus thread. Move-only.
template <class Topic> class CallbackSubscriber {
 public:
  using message = typename Topic::message;
  using Fn = std::function<void(const SampleView<message>&)>;

  CallbackSubscriber(const Node& node, Fn f) : f_(std::make_unique<Fn>(std::move(f))) {
    vbus_type t = detail::type_of<message>();
    detail::check(
        vbus_subscriber_create_callback(node.handle(), Topic::key, &t, &Topic::qos, &call, f_.get(), h_.out()));
  }
  std::optional<vbus_event> next_event(std::chrono::milliseconds timeout) { return vbus::next_event(h_.get(), timeout); }
  vbus_stats stats() const {
    vbus_stats s{};
    detail::check(vbus_subscriber_stats(h_.get(), &s));
    return s;
  }

 private:
  static void call(void* ctx, const vbus_sample_info* info) noexcept {
    // An exception cannot cross into the bus: the function must handle its own.
    try {
      (*static_cast<Fn*>(ctx))(SampleView<message>{info});
    } catch (...) {
    }
  }
  std::unique_ptr<Fn> f_;
  detail::Owned<vbus_subscriber, vbus_subscriber_close> h_;
};

/// A request taken from a server; answer it with reply() or refuse() (a request destroyed
/// unanswered is refused).
template <class Service> class Request {
 public:
  using request = typename Service::request;
  using reply_type = typename Service::reply;

  explicit Request(vbus_request h) {
    *h_.out() = h;
    detail::check(vbus_request_get(h, &info_));
  }

  const request* get() const { return flatbuffers::GetRoot<request>(info_.data); }
  const request* operator->() const { return get(); }
  /// Reply with the finished buffer of `fbb` (a `reply_type` table).
  void reply(const flatbuffers::FlatBufferBuilder& fbb) {
    detail::check(vbus_request_reply(h_.get(), fbb.GetBufferPointer(), fbb.GetSize()));
    h_.release();  // answered: the handle is gone
  }
  void refuse(const std::string& reason) { detail::check(vbus_request_refuse(h_.release(), reason.c_str())); }

 private:
  detail::Owned<vbus_request, detail::refuse_unanswered> h_;
  vbus_sample_info info_{};
};

/// Serves `Service` (a codegen service descriptor). Move-only.
template <class Service> class ServiceServer {
 public:
  using request = typename Service::request;
  using reply = typename Service::reply;

  explicit ServiceServer(const Node& node) {
    vbus_type req = detail::type_of<request>(), rep = detail::type_of<reply>();
    detail::check(vbus_service_server_create(node.handle(), Service::key, &req, &rep, h_.out()));
  }

  /// The next request, waiting at most `timeout`; empty on timeout.
  std::optional<Request<Service>> take(std::chrono::milliseconds timeout) {
    vbus_request r{};
    if (!detail::check_timeout(vbus_service_server_take(h_.get(), detail::millis(timeout), &r))) return std::nullopt;
    return Request<Service>(r);
  }

  /// Take one request (waiting at most `timeout`) and answer it with
  /// `handle(const request&, FlatBufferBuilder&) -> Offset<reply>`; false if none came.
  template <class F> bool serve_one(std::chrono::milliseconds timeout, F&& handle) {
    auto r = take(timeout);
    if (!r) return false;
    flatbuffers::FlatBufferBuilder fbb(256);
    flatbuffers::Offset<reply> root = handle(*r->get(), fbb);
    fbb.Finish(root);
    r->reply(fbb);
    return true;
  }

 private:
  detail::Owned<vbus_service_server, vbus_service_server_close> h_;
};

/// Calls `Service`. Move-only.
template <class Service> class ServiceClient {
 public:
  using request = typename Service::request;
  using reply = typename Service::reply;

  explicit ServiceClient(const Node& node) {
    vbus_type req = detail::type_of<request>(), rep = detail::type_of<reply>();
    detail::check(vbus_service_client_create(node.handle(), Service::key, &req, &rep, Service::timeout_ms, h_.out()));
  }

  /// Call with the finished buffer of `fbb` (a `request` table); the service's timeout unless
  /// `timeout` is given. Throws vbus::Error (VBUS_ERR_NO_SERVER, _TIMEOUT, _REFUSED, ...).
  Sample<reply> call(const flatbuffers::FlatBufferBuilder& fbb,
                     std::chrono::milliseconds timeout = std::chrono::milliseconds(0)) {
    vbus_sample s{};
    detail::check(vbus_service_call(h_.get(), fbb.GetBufferPointer(), fbb.GetSize(), detail::millis(timeout), &s));
    return Sample<reply>(s);
  }

 private:
  detail::Owned<vbus_service_client, vbus_service_client_close> h_;
};

/// Owns the field `Topic`: its latest value is kept for late joiners. Move-only.
template <class Topic> class FieldOwner {
 public:
  using message = typename Topic::message;

  explicit FieldOwner(const Node& node) {
    vbus_type t = detail::type_of<message>();
    detail::check(vbus_field_owner_create(node.handle(), Topic::key, &t, &Topic::qos, h_.out()));
  }
  void set(const flatbuffers::FlatBufferBuilder& fbb) {
    detail::check(vbus_field_set(h_.get(), fbb.GetBufferPointer(), fbb.GetSize()));
  }

 private:
  detail::Owned<vbus_field_owner, vbus_field_owner_close> h_;
};

/// Follows the field `Topic`. Move-only.
template <class Topic> class FieldClient {
 public:
  using message = typename Topic::message;

  explicit FieldClient(const Node& node) {
    vbus_type t = detail::type_of<message>();
    detail::check(vbus_field_client_create(node.handle(), Topic::key, &t, &Topic::qos, h_.out()));
  }

  /// The current value; empty until the owner has set one.
  std::optional<Sample<message>> get() {
    vbus_sample s{};
    vbus_status st = vbus_field_get(h_.get(), &s);
    if (st == VBUS_ERR_NO_VALUE) return std::nullopt;
    detail::check(st);
    return Sample<message>(s);
  }
  /// Wait at most `timeout` for a value newer than the last one returned here.
  std::optional<Sample<message>> wait_changed(std::chrono::milliseconds timeout) {
    vbus_sample s{};
    if (!detail::check_timeout(vbus_field_wait_changed(h_.get(), detail::millis(timeout), &s))) return std::nullopt;
    return Sample<message>(s);
  }

 private:
  detail::Owned<vbus_field_client, vbus_field_client_close> h_;
};

}  // namespace vbus
