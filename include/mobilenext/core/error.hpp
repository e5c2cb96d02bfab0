#pragma once
// Errors of the library. Every failure is reported by throwing mobilenext::Error (or a
// subclass), with a message that says what was expected and what was found.
#include <stdexcept>
#include <string>
#include <utility>

namespace mobilenext {

class Error : public std::runtime_error {
public:
    explicit Error(const std::string& message) : std::runtime_error(message) {}
};

// A file (model, .npy array, image) that cannot be read: the message starts with its name.
class FileError : public Error {
public:
    FileError(std::string file, const std::string& message) : Error(message), file_(std::move(file)) {}
    const std::string& file() const noexcept { return file_; }

private:
    std::string file_;
};

// A model file (or state dict) that cannot be loaded. The message names the file, the tensor
// or field (when there is one), what was expected and what was found.
class LoadError : public FileError {
public:
    LoadError(const std::string& file, std::string tensor, std::string expected, std::string found)
        : FileError(file, compose(file, tensor, expected, found)),
          tensor_(std::move(tensor)),
          expected_(std::move(expected)),
          found_(std::move(found)) {}

    const std::string& tensor() const noexcept { return tensor_; }
    const std::string& expected() const noexcept { return expected_; }
    const std::string& found() const noexcept { return found_; }

private:
    static std::string compose(const std::string& file, const std::string& tensor, const std::string& expected,
                               const std::string& found) {
        std::string m = file + ": ";
        if (!tensor.empty()) m += "'" + tensor + "': ";
        return m + "expected " + expected + ", found " + found;
    }
    std::string tensor_, expected_, found_;
};

namespace internal {
[[noreturn]] inline void fail(const std::string& message) { throw Error(message); }
[[noreturn]] inline void fail_file(const std::string& file, const std::string& message) {
    throw FileError(file, message);
}
inline void check(bool condition, const std::string& message) {
    if (!condition) fail(message);
}
inline bool ends_with(const std::string& s, const std::string& suffix) {
    return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}
}  // namespace internal

}  // namespace mobilenext
