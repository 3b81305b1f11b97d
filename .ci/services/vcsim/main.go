// vcsim for the vsphere driver tests: govmomi's simulator library (Debian's
// golang-github-vmware-govmomi-dev ships it without a main). Serves the VPX
// model (a vCenter: one datacenter, a cluster of hosts, standalone hosts,
// shared datastore) on -l, checks -username and the password in -password-file at Login, and prints
// the /sdk URL (without the password) on stdout once it listens.
package main

import (
	"flag"
	"fmt"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/vmware/govmomi/simulator"
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
	model.Service.Listen = &url.URL{Host: *listen, User: url.UserPassword(*user, pass)}
	server := model.Service.NewServer()

	u := *server.URL
	u.User = url.User(*user)
	fmt.Println(u.String())

	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGINT, syscall.SIGTERM)
	<-stop
	server.Close()
	model.Remove()
}
