#include <iostream>
void tell() { std::cerr << "pulling\n"; }
