// vcsim for the vsphere driver tests: govmomi's simulator library (Debian's
// golang-github-vmware-govmomi-dev ships it without a main). Serves the VPX
// model (a vCenter: one datacenter, a cluster of hosts, standalone hosts,
// shared datastore) on -l, checks -username and the password in -password-file at Login, and prints
// the /sdk URL (without the password) on stdout once it listens.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"regexp"
	"strings"
	"syscall"

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/types"
)

func main() {
	listen := flag.String("l", "127.0.0.1:0", "listen address")
	user := flag.String("username", "vl", "login user")
	passFile := flag.String("password-file", "", "file holding the login password (required; never on argv)")
	hosts := flag.Int("cluster-hosts", 3, "hosts in the cluster")
	flag.Parse()
	secret, err := os.ReadFile(*passFile)
	pass := strings.TrimRight(string(secret), "\r\n")
	if err != nil || pass == "" {
		fmt.Fprintln(os.Stderr, "vcsim: -password-file must name a non-empty file:", err)
		os.Exit(2)
	}

	model := simulator.VPX()
	model.ClusterHost = *hosts
	if err := model.Create(); err != nil {
		fmt.Fprintln(os.Stderr, "vcsim:", err)
		os.Exit(1)
	}
	model.Service.Listen = &url.URL{Host: "127.0.0.1:0", User: url.UserPassword(*user, pass)}
	server := model.Service.NewServer()
	// Our own listener in front of the simulator's handlers, so each request can be looked at first.
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		fmt.Fprintln(os.Stderr, "vcsim:", err)
		os.Exit(1)
	}
	mux := model.Service.ServeMux
	go func() {
		_ = http.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/sdk" {
				body, _ := io.ReadAll(r.Body)
				fixRootSnapshotRemoval(body)
				r.Body = io.NopCloser(bytes.NewReader(body))
			}
			mux.ServeHTTP(w, r)
		}))
	}()

	fmt.Printf("http://%s@%s/sdk\n", *user, ln.Addr().String())

	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGINT, syscall.SIGTERM)
	<-stop
	server.Close()
	model.Remove()
}

var removeSnapshot = regexp.MustCompile(`<RemoveSnapshot_Task[^>]*>\s*<_this type="VirtualMachineSnapshot">([^<]+)</_this>`)

// govmomi 0.24's RemoveSnapshot_Task panics (a nil parent written as the current snapshot)
// when the snapshot removed is the VM's current one and has no parent. vCenter then leaves the
// VM with no current snapshot; doing that first takes the simulator around its crash.
func fixRootSnapshotRemoval(body []byte) {
	m := removeSnapshot.FindSubmatch(body)
	if m == nil {
		return
	}
	ref := types.ManagedObjectReference{Type: "VirtualMachineSnapshot", Value: string(m[1])}
	snap, ok := simulator.Map.Get(ref).(*simulator.VirtualMachineSnapshot)
	if !ok {
		return
	}
	vm, ok := simulator.Map.Get(snap.Vm).(*simulator.VirtualMachine)
	if !ok {
		return
	}
	simulator.Map.WithLock(vm, func() {
		info := vm.Snapshot
		if info == nil || info.CurrentSnapshot == nil || *info.CurrentSnapshot != ref {
			return
		}
		for _, root := range info.RootSnapshotList {
			if root.Snapshot == ref {
				info.CurrentSnapshot = nil
			}
		}
	})
}
