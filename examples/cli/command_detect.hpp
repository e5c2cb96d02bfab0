#pragma once
// `mobilenext detect`, and what `mobilenext info` prints of a detector file.
#include <string>
#include <vector>

#include <mobilenext/mobilenext.hpp>

// Arguments after the command name; returns the exit code. Errors propagate as in
// command_evaluate.hpp.
int command_detect(const std::vector<std::string>& args);

void print_detector_info(const mobilenext::Detector& detector);
