#pragma once
// `mobilenext evaluate`: accuracy of a model over the Fashion-MNIST test set.
#include <string>
#include <vector>

// Arguments after the command name. Returns the exit code, 0 (also after --help). Usage
// errors propagate as mobilenext::cli::UsageError, for main() to report like every
// other command's; library errors propagate as mobilenext::Error.
int command_evaluate(const std::vector<std::string>& args);
