// Detector's members, compiled once with no -m flag for the users of mobilenext::dispatch, like
// Model's (model.cpp): they call the leaf kernels through the tables of kernels_<id>.cpp.
#include <mobilenext/detection/detector_definitions.hpp>
