package localserver

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// DovecotBinary is the path of Debian's dovecot (package dovecot-imapd).
func DovecotBinary() (string, error) {
	if p, err := exec.LookPath("dovecot"); err == nil {
		return p, nil
	}
	if _, err := os.Stat("/usr/sbin/dovecot"); err == nil {
		return "/usr/sbin/dovecot", nil
	}
	return "", fmt.Errorf("dovecot not found (Debian package dovecot-imapd)")
}

// Dovecot is a throwaway IMAP server: its own configuration, run directory,
// log and Maildirs in a temporary directory, plain authentication (no TLS)
// on one 127.0.0.1 port, users from a passwd file.
type Dovecot struct {
	bin, base string
	port      int
	users     map[string]string
	opts      DovecotOptions
	cmd       *exec.Cmd
	done      chan error
}

// DovecotOptions vary the server from its defaults.
type DovecotOptions struct {
	// NoIdle leaves IDLE out of the capabilities announced after login,
	// as some servers do.
	NoIdle bool
	// CertFile and KeyFile (PEM), when set, make the server offer STARTTLS.
	CertFile, KeyFile string
}

// NewDovecot writes the configuration of a server whose users are the keys
// of users (values: their passwords). Nothing runs until Start.
func NewDovecot(bin string, users map[string]string, opts DovecotOptions) (*Dovecot, error) {
	base, err := os.MkdirTemp("", "dovecot-test-")
	if err != nil {
		return nil, err
	}
	port, err := FreePort()
	if err != nil {
		return nil, err
	}
	d := &Dovecot{bin: bin, base: base, port: port, users: users, opts: opts}
	if err := d.writeConfig(); err != nil {
		d.Remove()
		return nil, err
	}
	return d, nil
}

// Addr is the server's host:port.
func (d *Dovecot) Addr() string { return fmt.Sprintf("127.0.0.1:%d", d.port) }

// Log is the server's log, for a failing test to show.
func (d *Dovecot) Log() string {
	b, _ := os.ReadFile(filepath.Join(d.base, "dovecot.log"))
	return string(b)
}

func (d *Dovecot) writeConfig() error {
	// Running as root, Dovecot's own processes run as its Debian users and
	// mail is owned by nobody (Dovecot refuses mail access as root);
	// otherwise everything runs as the current user.
	internal, login, mailUser := "dovecot", "dovenull", "nobody"
	if os.Geteuid() != 0 {
		u, err := user.Current()
		if err != nil {
			return err
		}
		internal, login, mailUser = u.Username, u.Username, u.Username
	}
	mu, err := user.Lookup(mailUser)
	if err != nil {
		return err
	}
	for _, dir := range []string{"run", "state", "mail"} {
		if err := os.MkdirAll(filepath.Join(d.base, dir), 0o755); err != nil {
			return err
		}
	}
	var passwd strings.Builder
	for name, pass := range d.users {
		fmt.Fprintf(&passwd, "%s:{PLAIN}%s::::::\n", name, pass)
	}
	if err := os.WriteFile(filepath.Join(d.base, "passwd"), []byte(passwd.String()), 0o644); err != nil {
		return err
	}
	mail := filepath.Join(d.base, "mail")
	if os.Geteuid() == 0 {
		if err := chownAll(mail, mu.Uid, mu.Gid); err != nil {
			return err
		}
		// The temporary directory is 0700 and root's: the mail user must
		// reach its Maildir below it.
		if err := os.Chmod(d.base, 0o755); err != nil {
			return err
		}
	}
	conf := fmt.Sprintf(`# throwaway test server
protocols = imap
listen = 127.0.0.1
base_dir = %[1]s/run
state_dir = %[1]s/state
log_path = %[1]s/dovecot.log
info_log_path = %[1]s/dovecot.log
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
default_internal_user = %[2]s
default_internal_group = %[6]s
default_login_user = %[3]s
first_valid_uid = 1
mail_location = maildir:%[1]s/mail/%%u/Maildir
passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%%u %[1]s/passwd
}
userdb {
  driver = static
  args = uid=%[4]s gid=%[5]s home=%[1]s/mail/%%u
}
service imap-login {
  chroot =
  inet_listener imap {
    address = 127.0.0.1
    port = %[7]d
  }
  inet_listener imaps {
    port = 0
  }
}
service anvil {
  chroot =
}
service stats {
  inet_listener http {
    port = 0
  }
}
`, d.base, internal, login, mu.Uid, mu.Gid, groupOf(internal), d.port)
	if d.opts.CertFile != "" {
		conf = strings.Replace(conf, "ssl = no\n", fmt.Sprintf("ssl = yes\nssl_cert = <%s\nssl_key = <%s\n", d.opts.CertFile, d.opts.KeyFile), 1)
	}
	if d.opts.NoIdle {
		conf += "protocol imap {\n  imap_capability = IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE LITERAL+ UIDPLUS NAMESPACE UNSELECT\n}\n"
	}
	return os.WriteFile(filepath.Join(d.base, "dovecot.conf"), []byte(conf), 0o644)
}

func groupOf(userName string) string {
	u, err := user.Lookup(userName)
	if err != nil {
		return userName
	}
	g, err := user.LookupGroupId(u.Gid)
	if err != nil {
		return userName
	}
	return g.Name
}

func chownAll(dir, uid, gid string) error {
	var u, g int
	fmt.Sscan(uid, &u)
	fmt.Sscan(gid, &g)
	return filepath.Walk(dir, func(p string, _ os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		return os.Chown(p, u, g)
	})
}

// Start runs the server in the foreground of a child process and waits
// until it accepts connections.
func (d *Dovecot) Start() error {
	if d.cmd != nil {
		return nil
	}
	cmd := exec.Command(d.bin, "-F", "-c", filepath.Join(d.base, "dovecot.conf"))
	out, err := os.Create(filepath.Join(d.base, "stderr.log"))
	if err != nil {
		return err
	}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		out.Close()
		return err
	}
	d.cmd, d.done = cmd, make(chan error, 1)
	go func() { d.done <- cmd.Wait(); out.Close() }()
	deadline := time.Now().Add(15 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", d.Addr(), time.Second)
		if err == nil {
			c.Close()
			return nil
		}
		select {
		case err := <-d.done:
			d.cmd = nil
			stderr, _ := os.ReadFile(filepath.Join(d.base, "stderr.log"))
			return fmt.Errorf("dovecot exited (%v): %s%s", err, stderr, d.Log())
		default:
		}
		if time.Now().After(deadline) {
			d.Stop()
			return fmt.Errorf("dovecot did not listen on %s within 15s: %s", d.Addr(), d.Log())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Stop ends the server and its processes.
func (d *Dovecot) Stop() {
	if d.cmd == nil {
		return
	}
	_ = d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-d.done:
	case <-time.After(10 * time.Second):
		_ = d.cmd.Process.Kill()
		<-d.done
	}
	d.cmd = nil
}

// Remove deletes the server's files.
func (d *Dovecot) Remove() { _ = os.RemoveAll(d.base) }
