#pragma once
// `mobilenext quantize`: a float model file into an int8 model file, calibrated on images.
#include <string>
#include <vector>

// Arguments after the command name. Returns the exit code, 0 (also after --help). Usage
// errors propagate as mobilenext::cli::UsageError, library errors as mobilenext::Error.
int command_quantize(const std::vector<std::string>& args);
