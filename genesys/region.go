// Package genesys polls Genesys Cloud's API for queue observations, service
// levels and the queue directory (DESIGN §2.2). It is slabot's only importer
// of the Genesys Cloud Go SDK, and keeps that SDK's process-wide behaviour
// (home-directory config file, file watcher, panicking token refresh) away
// from slabot: it uses the SDK's request models and does transport, OAuth,
// timeouts, rate limiting and float64 decoding itself.
package genesys

import (
	"fmt"
	"net/url"
	"slices"
	"strings"
)

// Region is where one Genesys Cloud organisation lives: the base URLs of its
// API, login (OAuth) and web app hosts, without a trailing slash.
type Region struct {
	API   string
	Login string
	Apps  string
}

// regionDomains maps AWS regions to Genesys Cloud domains: the 15 regions of
// SDK v150 (its unexported configuration constants) plus Mexico, Singapore
// and the EU sovereign cloud (eusc-de-east-1, in Germany), which opened after
// it. The sovereign region lives under its own domain, eusc-pure.cloud, as
// the SDKs' newer region tables list it (edee1.eusc-pure.cloud).
var regionDomains = map[string]string{
	"us-east-1":      "mypurecloud.com",
	"us-east-2":      "use2.us-gov-pure.cloud",
	"us-west-2":      "usw2.pure.cloud",
	"ca-central-1":   "cac1.pure.cloud",
	"sa-east-1":      "sae1.pure.cloud",
	"mx-central-1":   "mxc1.pure.cloud",
	"eu-west-1":      "mypurecloud.ie",
	"eu-west-2":      "euw2.pure.cloud",
	"eu-central-1":   "mypurecloud.de",
	"eu-central-2":   "euc2.pure.cloud",
	"eusc-de-east-1": "edee1.eusc-pure.cloud",
	"me-central-1":   "mec1.pure.cloud",
	"ap-south-1":     "aps1.pure.cloud",
	"ap-southeast-1": "apse1.pure.cloud",
	"ap-southeast-2": "mypurecloud.com.au",
	"ap-northeast-1": "mypurecloud.jp",
	"ap-northeast-2": "apne2.pure.cloud",
	"ap-northeast-3": "apne3.pure.cloud",
}

// DefaultRegion is the region used when GENESYS_REGION is empty.
const DefaultRegion = "us-east-1"

// ResolveRegion turns GENESYS_REGION into base URLs. It accepts an AWS region
// ("eu-west-1"), a Genesys Cloud domain ("mypurecloud.ie", optionally with its
// "api." host prefix) or a base URL ("https://api.mypurecloud.de", or any
// http(s) URL such as a proxy or a test server, which then also serves
// /oauth/token). Empty means us-east-1.
func ResolveRegion(s string) (Region, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		s = DefaultRegion
	}
	if strings.Contains(s, "://") {
		return regionFromURL(s)
	}
	key := strings.ToLower(strings.ReplaceAll(s, "_", "-"))
	if d, ok := regionDomains[key]; ok {
		return regionFromDomain(d), nil
	}
	d := strings.TrimSuffix(strings.ToLower(s), ".")
	for _, prefix := range []string{"api.", "login.", "apps."} {
		d = strings.TrimPrefix(d, prefix)
	}
	for _, known := range regionDomains {
		if d == known {
			return regionFromDomain(d), nil
		}
	}
	return Region{}, fmt.Errorf("genesys: unknown region %q: %s", s, acceptedRegions())
}

func regionFromDomain(domain string) Region {
	return Region{
		API:   "https://api." + domain,
		Login: "https://login." + domain,
		Apps:  "https://apps." + domain,
	}
}

func regionFromURL(s string) (Region, error) {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" ||
		u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		shown := "GENESYS_REGION"
		if err == nil {
			shown = fmt.Sprintf("%q", u.Redacted())
		}
		return Region{}, fmt.Errorf("genesys: region URL %s is not an http(s) base URL without credentials, query or fragment: %s", shown, acceptedRegions())
	}
	base := u.Scheme + "://" + u.Host + strings.TrimRight(u.Path, "/")
	if rest, ok := strings.CutPrefix(strings.ToLower(u.Host), "api."); ok && strings.Trim(u.Path, "/") == "" {
		return Region{
			API:   base,
			Login: u.Scheme + "://login." + rest,
			Apps:  u.Scheme + "://apps." + rest,
		}, nil
	}
	return Region{API: base, Login: base, Apps: base}, nil
}

func acceptedRegions() string {
	aws := make([]string, 0, len(regionDomains))
	domains := make([]string, 0, len(regionDomains))
	for r, d := range regionDomains {
		aws = append(aws, r)
		domains = append(domains, d)
	}
	slices.Sort(aws)
	slices.Sort(domains)
	return "use an AWS region (" + strings.Join(aws, ", ") + "), a Genesys Cloud domain (" +
		strings.Join(domains, ", ") + ") or a base URL such as https://api.mypurecloud.de"
}
