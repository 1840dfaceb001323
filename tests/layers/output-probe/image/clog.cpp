#include <iostream>
void tell() { std::clog << "pulling\n"; }
