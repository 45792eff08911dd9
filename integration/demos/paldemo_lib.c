/* A shared library for the loader demo. */
int paldemo_answer(void)
{
	return 42;
}
