#pragma once

#include <cstdlib>
#include <optional>
#include <type_traits>
#include <utility>
#include <variant>

#include "s3cryptfs/core/error.h"

namespace s3cryptfs {

// A value or an Error. The API is a subset of std::expected<T, Error> so it can become an alias
// once the toolchain (clang 14 cannot see std::expected) moves on.
template <class T>
class [[nodiscard]] Result {
 public:
  using value_type = T;

  Result(T value)
      : state_(std::in_place_index<0>, std::move(value)) {}  // NOLINT(google-explicit-constructor)
  Result(Error error)
      : state_(std::in_place_index<1>, std::move(error)) {}  // NOLINT(google-explicit-constructor)
  template <class U>
  requires(std::is_constructible_v<T, U&&> && !std::is_same_v<std::decay_t<U>, T> &&
           !std::is_same_v<std::decay_t<U>, Error> && !std::is_same_v<std::decay_t<U>, Result>)
      Result(U&& value)  // NOLINT(google-explicit-constructor)
      : state_(std::in_place_index<0>, T(std::forward<U>(value))) {}

  bool has_value() const { return state_.index() == 0; }  // NOLINT(readability-identifier-naming)
  explicit operator bool() const { return has_value(); }

  T& value() & { return checked(); }
  const T& value() const& { return const_cast<Result*>(this)->checked(); }
  T&& value() && { return std::move(checked()); }
  T& operator*() & { return checked(); }
  const T& operator*() const& { return const_cast<Result*>(this)->checked(); }
  T&& operator*() && { return std::move(checked()); }
  T* operator->() { return &checked(); }
  const T* operator->() const { return &const_cast<Result*>(this)->checked(); }

  const Error& error() const& {
    if (has_value()) std::abort();  // asking a success for its error is a bug
    return std::get<1>(state_);
  }
  Error&& error() && {
    if (has_value()) std::abort();
    return std::get<1>(std::move(state_));
  }

  template <class U>
  T value_or(U&& fallback) const& {  // NOLINT(readability-identifier-naming)
    return has_value() ? std::get<0>(state_) : T(std::forward<U>(fallback));
  }

 private:
  T& checked() {
    if (!has_value()) std::abort();  // reading the value of a failure is a bug
    return std::get<0>(state_);
  }
  std::variant<T, Error> state_;
};

template <>
class [[nodiscard]] Result<void> {
 public:
  using value_type = void;
  Result() = default;
  Result(Error error) : error_(std::move(error)) {}  // NOLINT(google-explicit-constructor)

  bool has_value() const { return !error_.has_value(); }  // NOLINT(readability-identifier-naming)
  explicit operator bool() const { return has_value(); }
  void value() const {
    if (!has_value()) std::abort();
  }
  const Error& error() const& {
    if (has_value()) std::abort();
    return *error_;
  }
  Error&& error() && {
    if (has_value()) std::abort();
    return std::move(*error_);
  }

 private:
  std::optional<Error> error_;
};

using Status = Result<void>;

inline Status ok() {
  return {};
}

}  // namespace s3cryptfs

#define S3C_CONCAT_INNER(a, b) a##b
#define S3C_CONCAT(a, b) S3C_CONCAT_INNER(a, b)

// Returns the error of a failed Result from the enclosing function.
#define S3C_RETURN_IF_ERROR(expr)                                        \
  do {                                                                   \
    auto s3c_status_ = (expr);                                           \
    if (!s3c_status_.has_value()) return std::move(s3c_status_).error(); \
  } while (false)

// Declares `lhs` from the value of a Result, or returns its error.
#define S3C_ASSIGN_OR_RETURN(lhs, expr) \
  S3C_ASSIGN_OR_RETURN_IMPL(S3C_CONCAT(s3c_result_, __LINE__), lhs, expr)
#define S3C_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr)      \
  auto tmp = (expr);                                   \
  if (!tmp.has_value()) return std::move(tmp).error(); \
  lhs = std::move(tmp).value()
