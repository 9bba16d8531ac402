package access

import (
	"slices"

	"github.com/spanvault/spanvault/internal/httperr"
)

// Role is what a user is for. Every role is scoped to branches.
type Role string

// Roles.
const (
	Admin      Role = "admin"      // users, roles, branches; hears nothing
	Auditor    Role = "auditor"    // reads the audit trails; hears nothing
	Supervisor Role = "supervisor" // hears recordings of its branches
	Compliance Role = "compliance" // searches and hears across its branches, exports with approval
	DPO        Role = "dpo"        // subject reports, erasure, holds
	CRM        Role = "crm"        // mints streaming links, one recording at a time
)

// Roles lists every role.
var Roles = []Role{Admin, Auditor, Supervisor, Compliance, DPO, CRM}

// ParseRole checks a role name.
func ParseRole(s string) (Role, error) {
	r := Role(s)
	if !slices.Contains(Roles, r) {
		return "", httperr.BadRequestf("unknown role %q (one of admin, auditor, supervisor, compliance, dpo, crm)", s)
	}
	return r, nil
}

// Action is something a user asks to do.
type Action string

// Actions.
const (
	ActUsers   Action = "users"   // list users, add users, request role changes
	ActAudit   Action = "audit"   // read the archive's audit trail
	ActFleet   Action = "fleet"   // the fleet page (no personal data)
	ActSearch  Action = "search"  // list and search recordings of its branches
	ActPlay    Action = "play"    // hear a recording of its branches
	ActExport  Action = "export"  // request an export
	ActSubject Action = "subject" // Art. 15 reports across its branches
	ActErase   Action = "erase"   // request an erasure (one recording or a subject)
	ActHold    Action = "hold"    // put a recording on legal hold
	ActRelease Action = "release" // request a hold's release
	ActLink    Action = "link"    // mint a streaming link
	ActClear   Action = "clear"   // lift an insider suspension (of someone else)
	ActRevoke  Action = "revoke"  // list and revoke anyone's streaming links (within its branches)
	ActDTMF    Action = "dtmf"    // reveal a call's DTMF digits, with a reason (masked otherwise)
	ActEnroll  Action = "enroll"  // list boxes waiting for enrollment and approve their codes
)

// Actions lists every action (the role matrix test walks it).
var Actions = []Action{ActUsers, ActAudit, ActFleet, ActSearch, ActPlay, ActExport, ActSubject, ActErase, ActHold, ActRelease, ActLink, ActClear, ActRevoke, ActDTMF, ActEnroll}

// matrix is least privilege: what is not listed is refused.
var matrix = map[Role][]Action{
	Admin:      {ActUsers, ActFleet, ActClear, ActRevoke, ActEnroll},
	Auditor:    {ActAudit, ActFleet},
	Supervisor: {ActSearch, ActPlay},
	Compliance: {ActSearch, ActPlay, ActExport, ActDTMF},
	DPO:        {ActSearch, ActSubject, ActErase, ActHold, ActRelease, ActClear, ActRevoke},
	CRM:        {ActLink},
}

// Allowed reports whether a role may do an action.
func Allowed(r Role, a Action) bool { return slices.Contains(matrix[r], a) }

// Request kinds that take four eyes, and the roles that may approve each.
const (
	ReqExport  = "export"
	ReqErase   = "erase"
	ReqRelease = "release"
	ReqRole    = "role"
	ReqBulk    = "bulk_erase" // erasure by subject: every recording of a number
)

var approvers = map[string][]Role{
	ReqExport:  {Compliance, DPO},
	ReqErase:   {DPO},
	ReqRelease: {DPO},
	ReqRole:    {Admin},
	ReqBulk:    {DPO},
}

// requesters: the action a user needs to request each kind.
var requesters = map[string]Action{
	ReqExport:  ActExport,
	ReqErase:   ActErase,
	ReqRelease: ActRelease,
	ReqRole:    ActUsers,
	ReqBulk:    ActErase,
}

// MayApprove reports whether a role may approve a request kind.
func MayApprove(r Role, kind string) bool { return slices.Contains(approvers[kind], r) }
