#pragma once
// Command-line parsing shared by the subcommands of the `mobilenext` tool: each declares its
// options, then reads typed values by name, so all report mistakes and print help alike.
#include <cerrno>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace mobilenext::cli {

// A mistake on the command line (as opposed to a problem with the data or the model).
class UsageError : public std::runtime_error {
public:
    UsageError(const std::string& message, std::string usage_line = "")
        : std::runtime_error(message), usage(std::move(usage_line)) {}
    std::string usage;  // the command's synopsis, when known
};

// The options of one subcommand: declared first, then parsed, then read by name.
class ArgParser {
public:
    ArgParser(std::string command, std::string synopsis, std::string description)
        : command_(std::move(command)), synopsis_(std::move(synopsis)), description_(std::move(description)) {}

    // An option taking a value, given as `--name VALUE` or `--name=VALUE`.
    ArgParser& option(const std::string& name, const std::string& metavar, const std::string& help) {
        specs_.push_back({name, metavar, help});
        return *this;
    }

    // An option without a value, e.g. `--no-verify`.
    ArgParser& flag(const std::string& name, const std::string& help) {
        specs_.push_back({name, "", help, true});
        return *this;
    }

    // Non-option arguments this command accepts (at most `max_count`).
    ArgParser& positionals(std::size_t max_count, const std::string& metavar, const std::string& help) {
        max_positionals_ = max_count;
        positional_metavar_ = metavar;
        positional_help_ = help;
        return *this;
    }

    // Returns false when help was asked for (and printed): the caller then exits with 0.
    bool parse(const std::vector<std::string>& args) {
        for (std::size_t i = 0; i < args.size(); ++i) {
            const std::string& arg = args[i];
            if (arg == "-h" || arg == "--help") {
                std::fputs(help().c_str(), stdout);
                return false;
            }
            if (arg.size() < 2 || arg[0] != '-') {
                if (positionals_.size() >= max_positionals_) fail("unexpected argument '" + arg + "'");
                positionals_.push_back(arg);
                continue;
            }
            const std::size_t eq = arg.find('=');
            const std::string name = arg.substr(0, eq);
            const Spec* spec = find(name);
            if (spec == nullptr) fail("unknown option '" + name + "'");
            if (values_.count(name) != 0) fail("option " + name + " given more than once");
            if (spec->is_flag) {
                if (eq != std::string::npos) fail("option " + name + " takes no value");
                values_[name] = "";
            } else if (eq != std::string::npos) {
                values_[name] = arg.substr(eq + 1);
            } else {
                // A following option name is a forgotten value, not the value itself.
                if (i + 1 >= args.size() || args[i + 1].rfind("--", 0) == 0)
                    fail("option " + name + " needs a value (" + spec->metavar + ")");
                values_[name] = args[++i];
            }
        }
        return true;
    }

    std::optional<std::string> get(const std::string& name) const {
        const auto it = values_.find(name);
        if (it == values_.end()) return std::nullopt;
        return it->second;
    }
    bool has(const std::string& name) const { return values_.count(name) != 0; }
    const std::vector<std::string>& positional_args() const { return positionals_; }

    double get_double(const std::string& name, double fallback) const {
        const auto text = get(name);
        if (!text) return fallback;
        errno = 0;
        char* end = nullptr;
        const double v = std::strtod(text->c_str(), &end);
        if (text->empty() || *end != '\0' || errno == ERANGE || !std::isfinite(v))
            fail("invalid value '" + *text + "' for " + name + ": expected a number");
        return v;
    }

    long long get_int(const std::string& name, long long fallback, long long min, long long max) const {
        const auto text = get(name);
        if (!text) return fallback;
        errno = 0;
        char* end = nullptr;
        const long long v = std::strtoll(text->c_str(), &end, 10);
        if (text->empty() || *end != '\0' || errno == ERANGE || v < min || v > max)
            fail("invalid value '" + *text + "' for " + name + ": expected an integer in [" +
                 std::to_string(min) + ", " + std::to_string(max) + "]");
        return v;
    }

    std::uint64_t get_u64(const std::string& name) const {
        const std::string text = get(name).value();
        errno = 0;
        char* end = nullptr;
        const unsigned long long v = std::strtoull(text.c_str(), &end, 10);
        // strtoull accepts a sign and negates: refuse anything but digits.
        if (text.empty() || text.find_first_not_of("0123456789") != std::string::npos || *end != '\0' ||
            errno == ERANGE)
            fail("invalid value '" + text + "' for " + name + ": expected an integer in [0, 2^64)");
        return v;
    }

    // HxW, or a single number for a square.
    std::pair<int, int> get_size(const std::string& name, std::pair<int, int> fallback) const {
        const auto text = get(name);
        if (!text) return fallback;
        const auto dimension = [&](const std::string& part) {
            errno = 0;
            char* end = nullptr;
            const long v = std::strtol(part.c_str(), &end, 10);
            if (part.empty() || part.find_first_not_of("0123456789") != std::string::npos || errno == ERANGE ||
                v < 1 || v > 65536)
                fail("invalid value '" + *text + "' for " + name +
                     ": expected HxW with sides in [1, 65536], e.g. 224x224");
            return int(v);
        };
        const std::size_t x = text->find('x');
        if (x == std::string::npos) {
            const int side = dimension(*text);
            return {side, side};
        }
        return {dimension(text->substr(0, x)), dimension(text->substr(x + 1))};
    }

    [[noreturn]] void fail(const std::string& message) const { throw UsageError(message, usage_line()); }

    std::string usage_line() const { return "usage: mobilenext " + command_ + " " + synopsis_ + "\n"; }

    std::string help() const {
        std::string s = usage_line() + "\n" + description_ + "\n\n";
        if (max_positionals_ > 0) s += "arguments:\n" + row(positional_metavar_, positional_help_) + "\n";
        s += "options:\n";
        for (const Spec& spec : specs_) s += row(spec.is_flag ? spec.name : spec.name + " " + spec.metavar, spec.help);
        s += row("-h, --help", "show this help and exit");
        return s;
    }

    const std::string& command() const { return command_; }

private:
    struct Spec {
        std::string name, metavar, help;
        bool is_flag = false;
    };

    const Spec* find(const std::string& name) const {
        for (const Spec& s : specs_)
            if (s.name == name) return &s;
        return nullptr;
    }

    static std::string row(const std::string& left, const std::string& right) {
        std::string s = "  " + left;
        s += s.size() < 28 ? std::string(28 - s.size(), ' ') : "\n" + std::string(28, ' ');
        return s + right + "\n";
    }

    std::string command_, synopsis_, description_;
    std::vector<Spec> specs_;
    std::size_t max_positionals_ = 0;
    std::string positional_metavar_, positional_help_;
    std::map<std::string, std::string> values_;
    std::vector<std::string> positionals_;
};

}  // namespace mobilenext::cli
