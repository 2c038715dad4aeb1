package qloappsserver

import (
	"fmt"
	"io"
	"os/exec"
	"strings"

	"github.com/agentehotel/agente-caddy/test/testservices/localserver"
)

// PHPPackages are the Debian 12 packages QloApps 1.6.1 runs on: PHP 8.2's
// command line (which has the built-in web server) and the extensions its
// installer checks for. QloApps asks for PHP 5.6-7.4; its installer and
// webservice run on 8.2 anyway.
var PHPPackages = []string{
	"php8.2-cli", "php8.2-mysql", "php8.2-gd", "php8.2-intl", "php8.2-zip", "php8.2-curl",
	"php8.2-xml", "php8.2-mbstring", "php8.2-soap", "php8.2-bcmath",
}

// MariaDBPackages ship mariadbd and mariadb-install-db without the system
// service mariadb-server would add (and start on port 3306).
var MariaDBPackages = []string{"mariadb-server-core", "mariadb-client-core"}

// phpModules are the names `php -m` lists for PHPPackages' extensions.
var phpModules = []string{"pdo_mysql", "gd", "intl", "zip", "curl", "SimpleXML", "dom", "mbstring", "soap", "bcmath"}

// EnsureBinaries checks that PHP with QloApps' extensions and the MariaDB
// server programs are installed and, when some are missing and we run as
// root, installs PHPPackages / MariaDBPackages with apt-get (its output
// going to out).
func EnsureBinaries(out io.Writer) error {
	var pkgs []string
	if missing := missingPHPModules(); len(missing) > 0 {
		pkgs = append(pkgs, PHPPackages...)
	}
	_, errServer := mariadbBinary("mariadbd")
	_, errInstall := mariadbBinary("mariadb-install-db")
	if errServer != nil || errInstall != nil {
		pkgs = append(pkgs, MariaDBPackages...)
	}
	if len(pkgs) == 0 {
		return nil
	}
	if err := localserver.AptInstall(out, pkgs...); err != nil {
		return fmt.Errorf("PHP or MariaDB missing and not installed: %w", err)
	}
	if missing := missingPHPModules(); len(missing) > 0 {
		return fmt.Errorf("PHP modules %s still missing after installing %s", strings.Join(missing, ", "), strings.Join(PHPPackages, " "))
	}
	for _, name := range []string{"mariadbd", "mariadb-install-db"} {
		if _, err := mariadbBinary(name); err != nil {
			return fmt.Errorf("%w after installing %s", err, strings.Join(MariaDBPackages, " "))
		}
	}
	return nil
}

// missingPHPModules lists the phpModules `php -m` does not (all of them when
// there is no php).
func missingPHPModules() []string {
	out, err := exec.Command("php", "-m").Output()
	if err != nil {
		return phpModules
	}
	have := map[string]bool{}
	for _, l := range strings.Split(string(out), "\n") {
		have[strings.ToLower(strings.TrimSpace(l))] = true
	}
	var missing []string
	for _, m := range phpModules {
		if !have[strings.ToLower(m)] {
			missing = append(missing, m)
		}
	}
	return missing
}
