package archive

import (
	"fmt"
	"strings"
	"time"

	"github.com/spanvault/spanvault/record"
)

// validateSearch checks the [access] keys searches read: the default
// phone region, the extension patterns and the readers' default zone.
func (ac *AccessConfig) validateSearch() []error {
	var errs []error
	if err := record.CheckRegion(ac.PhoneRegion); err != nil {
		errs = append(errs, fmt.Errorf("access.phone_region: %w", err))
	}
	for i, e := range ac.Extensions {
		if e == "" || strings.ContainsAny(e, " \t") || strings.Contains(strings.TrimSuffix(e, "*"), "*") {
			errs = append(errs, fmt.Errorf("access.extensions[%d]: %q is not a dial pattern like 2xxx or 20*", i, e))
		}
	}
	if ac.TimeZone != "" {
		if _, err := time.LoadLocation(ac.TimeZone); err != nil {
			errs = append(errs, fmt.Errorf("access.time_zone: %q is not an IANA zone like Europe/Berlin", ac.TimeZone))
		}
	}
	return errs
}
