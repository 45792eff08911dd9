/* Demo: dlopen(LIB) twice (the loader event must come once per process image and file). */
#include <dlfcn.h>
#include <stdio.h>

int main(int argc, char **argv)
{
	if (argc != 2)
		return fprintf(stderr, "usage: %s LIB.so\n", argv[0]), 2;
	for (int i = 0; i < 2; i++) {
		void *h = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
		if (!h)
			return fprintf(stderr, "%s\n", dlerror()), 1;
		int (*f)(void) = (int (*)(void))dlsym(h, "paldemo_answer");
		printf("answer %d\n", f ? f() : -1);
		dlclose(h);
	}
	return 0;
}
