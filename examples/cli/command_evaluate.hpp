#pragma once
// `mobilenext evaluate`: accuracy of a model over the Fashion-MNIST test set.
#include <string>
#include <vector>

// Arguments after the command name. Returns the exit code: 0 success, 2 a usage error
// (already reported on stderr); library errors propagate as mobilenext::Error.
int command_evaluate(const std::vector<std::string>& args);
