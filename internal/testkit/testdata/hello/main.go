// Command hello is what TestGoBuild builds.
package main

import "fmt"

func main() { fmt.Println("hello from a test build") }
