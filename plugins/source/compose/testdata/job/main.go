// Command job is the one-shot process of the compose source's tests (a
// migration, say): it works for $JOB_DURATION, says so, and exits with
// $JOB_EXIT.
package main

import (
	"fmt"
	"os"
	"strconv"
	"time"
)

func main() {
	d, err := time.ParseDuration(os.Getenv("JOB_DURATION"))
	if err != nil {
		d = 0
	}
	code, err := strconv.Atoi(os.Getenv("JOB_EXIT"))
	if err != nil {
		code = 0
	}
	fmt.Printf("job: working for %v\n", d)
	time.Sleep(d)
	fmt.Printf("job: done, exiting with code %d\n", code)
	os.Exit(code)
}
