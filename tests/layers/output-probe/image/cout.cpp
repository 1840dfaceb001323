#include <iostream>
void tell() { std::cout << "pulled\n"; }
