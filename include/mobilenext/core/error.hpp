#pragma once
// Errors of the library. Every failure is reported by throwing mobilenext::Error (or a
// subclass), with a message that says what was expected and what was found.
#include <stdexcept>
#include <string>

namespace mobilenext {

class Error : public std::runtime_error {
public:
    explicit Error(const std::string& message) : std::runtime_error(message) {}
};

namespace internal {
[[noreturn]] inline void fail(const std::string& message) { throw Error(message); }
inline void check(bool condition, const std::string& message) {
    if (!condition) fail(message);
}
}  // namespace internal

}  // namespace mobilenext
