package access

// Setup links, like streaming links, are built on access.public_url,
// never on a request's Host: an approver's request that reaches the
// service under another name (a proxy, DNS rebinding) must not put that
// name into a link handed to a new user. Without public_url, approving
// an account request that would issue one is refused before anything
// changes; the request stays pending.

// errNoSetupURL: no setup link without access.public_url; the service
// answers it as errNoPublicURL (503).
var errNoSetupURL error = noSetupURL{}

type noSetupURL struct{}

func (noSetupURL) Error() string {
	return "access.public_url is not set in archive.toml: no setup link can be issued, so no account is added or reset (links are built on it, never on the request's Host)"
}

func (noSetupURL) Is(target error) bool { return target == errNoPublicURL }

// issuesSetup reports whether approving a request of kind hands the
// approver a setup link.
func issuesSetup(kind string) bool { return kind == ReqAddUser || kind == ReqReset }

// setupBase is where setup links point: access.public_url.
func (s *Service) setupBase() (string, error) {
	base, err := s.linkBase()
	if err != nil {
		return "", errNoSetupURL
	}
	return base, nil
}
