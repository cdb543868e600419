package genesys

import (
	"strings"
	"testing"
)

func TestResolveRegion(t *testing.T) {
	domain := func(d string) Region {
		return Region{API: "https://api." + d, Login: "https://login." + d, Apps: "https://apps." + d}
	}
	tests := []struct {
		in   string
		want Region
	}{
		{"", domain("mypurecloud.com")},
		// The 15 regions of SDK v150 (configuration.go), plus Mexico and Singapore.
		{"us-east-1", domain("mypurecloud.com")},
		{"eu-west-1", domain("mypurecloud.ie")},
		{"ap-southeast-2", domain("mypurecloud.com.au")},
		{"ap-northeast-1", domain("mypurecloud.jp")},
		{"eu-central-1", domain("mypurecloud.de")},
		{"us-west-2", domain("usw2.pure.cloud")},
		{"ca-central-1", domain("cac1.pure.cloud")},
		{"ap-northeast-2", domain("apne2.pure.cloud")},
		{"eu-west-2", domain("euw2.pure.cloud")},
		{"ap-south-1", domain("aps1.pure.cloud")},
		{"us-east-2", domain("use2.us-gov-pure.cloud")},
		{"sa-east-1", domain("sae1.pure.cloud")},
		{"me-central-1", domain("mec1.pure.cloud")},
		{"ap-northeast-3", domain("apne3.pure.cloud")},
		{"eu-central-2", domain("euc2.pure.cloud")},
		{"mx-central-1", domain("mxc1.pure.cloud")},
		{"ap-southeast-1", domain("apse1.pure.cloud")},
		// The EU sovereign cloud, under a domain of its own.
		{"eusc-de-east-1", domain("edee1.eusc-pure.cloud")},
		{"EUSC_DE_EAST_1", domain("edee1.eusc-pure.cloud")},
		{"edee1.eusc-pure.cloud", domain("edee1.eusc-pure.cloud")},
		{"api.edee1.eusc-pure.cloud", domain("edee1.eusc-pure.cloud")},
		{"https://api.edee1.eusc-pure.cloud", domain("edee1.eusc-pure.cloud")},
		// Spelling variants.
		{"  EU-WEST-1 ", domain("mypurecloud.ie")},
		{"eu_west_1", domain("mypurecloud.ie")},
		// Genesys Cloud domains.
		{"mypurecloud.ie", domain("mypurecloud.ie")},
		{"usw2.pure.cloud", domain("usw2.pure.cloud")},
		{"mxc1.pure.cloud", domain("mxc1.pure.cloud")},
		{"apse1.pure.cloud", domain("apse1.pure.cloud")},
		{"MyPureCloud.com.au", domain("mypurecloud.com.au")},
		{"api.mypurecloud.de", domain("mypurecloud.de")},
		{"login.euw2.pure.cloud", domain("euw2.pure.cloud")},
		// Base URLs.
		{"https://api.mypurecloud.de", domain("mypurecloud.de")},
		{"https://api.mypurecloud.de/", domain("mypurecloud.de")},
		{"http://127.0.0.1:8080", Region{API: "http://127.0.0.1:8080", Login: "http://127.0.0.1:8080", Apps: "http://127.0.0.1:8080"}},
		{"http://127.0.0.1:8080/", Region{API: "http://127.0.0.1:8080", Login: "http://127.0.0.1:8080", Apps: "http://127.0.0.1:8080"}},
		{"https://proxy.example.com/genesys/", Region{API: "https://proxy.example.com/genesys", Login: "https://proxy.example.com/genesys", Apps: "https://proxy.example.com/genesys"}},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ResolveRegion(tt.in)
			if err != nil {
				t.Fatalf("ResolveRegion(%q) error: %v", tt.in, err)
			}
			if got != tt.want {
				t.Errorf("ResolveRegion(%q) = %+v, want %+v", tt.in, got, tt.want)
			}
		})
	}
}

func TestResolveRegionRejects(t *testing.T) {
	for _, in := range []string{
		"mars-north-1",
		"us-west-1",
		"mypurecloud.xyz",
		"eusc-de-west-1",
		"eusc-pure.cloud",
		"example.com",
		"ftp://api.mypurecloud.com",
		"https://",
		"https://user:pw@api.mypurecloud.com",
		"https://api.mypurecloud.com/?x=1",
		"://nothing",
	} {
		t.Run(in, func(t *testing.T) {
			got, err := ResolveRegion(in)
			if err == nil {
				t.Fatalf("ResolveRegion(%q) = %+v, want an error", in, got)
			}
			msg := err.Error()
			for _, want := range []string{"eu-west-1", "mypurecloud.ie", "apse1.pure.cloud", "eusc-de-east-1", "edee1.eusc-pure.cloud", "base URL"} {
				if !strings.Contains(msg, want) {
					t.Errorf("error %q does not list accepted form %q", msg, want)
				}
			}
			if strings.Contains(msg, "pw@") {
				t.Errorf("error %q repeats URL credentials", msg)
			}
		})
	}
}
