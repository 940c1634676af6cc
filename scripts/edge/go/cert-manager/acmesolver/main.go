// Command acmesolver is cert-manager's HTTP-01 solver: the program of the pods cert-manager's
// ACME issuers start to answer an authority's challenge, built from upstream's solver package
// with upstream's flags (those the controller puts in each solver pod's arguments). Upstream's own
// main is in cmd/acmesolver, a nested module the Go module proxy does not serve (see
// scripts/edge/build-cert-manager.sh), so this is the same few lines over the same package.
package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/pflag"
	"k8s.io/klog/v2"

	"github.com/cert-manager/cert-manager/pkg/issuer/acme/http/solver"
)

func main() {
	s := &solver.HTTP01Solver{}
	fs := pflag.NewFlagSet("acmesolver", pflag.ExitOnError)
	fs.IntVar(&s.ListenPort, "listen-port", 8089, "the port number to listen on for connections")
	fs.StringVar(&s.Domain, "domain", "", "the domain name to verify")
	fs.StringVar(&s.Token, "token", "", "the challenge token to verify against")
	fs.StringVar(&s.Key, "key", "", "the challenge key to respond with")
	_ = fs.Parse(os.Args[1:])

	log := klog.Background().WithName("acmesolver")
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = s.Shutdown(shutdown)
	}()
	if err := s.Listen(log); err != nil && !errors.Is(err, http.ErrServerClosed) {
		fmt.Fprintf(os.Stderr, "acmesolver: %v\n", err)
		os.Exit(1)
	}
}
