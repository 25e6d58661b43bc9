# Install rules: the library, its public headers under include/ds/..., and a CMake package (find_package(ds)).
