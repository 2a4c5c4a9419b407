# The two commands of the README, and the partial targets for quick loops. All need root.
.PHONY: up down test setup lint unit plugins roles system status clean bench

up:            ## set up the controller, boot the lab host, converge site.yml, print what runs where
	bin/demo

down:          ## power off the lab host (its disk is removed)
	bin/demo down

test:          ## every test: lint, unit, plugins, roles, system (what CI runs)
	bin/test all

setup:         ## controller toolchain only (apt packages, .venv)
	bin/setup-controller

lint unit plugins system:
	bin/test $@

roles:         ## all role scenarios, or ROLE=name for one
	bin/test roles $(ROLE)

status:        ## what runs where on the lab host
	PATH=$(CURDIR)/.venv/bin:$$PATH ansible-playbook -i inventories/local playbooks/status.yml

clean:         ## remove every lab host, cgroup, link and nft table (also after a crash)
	molecule/lab/oaelab clean

bench:         ## converge benchmark on a lab host (not run by CI)
	benchmarks/converge.sh
