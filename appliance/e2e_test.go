//go:build linux

package appliance_test

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"filippo.io/age"

	"github.com/spanvault/spanvault/capture/audio"
	"github.com/spanvault/spanvault/capture/calls"
	"github.com/spanvault/spanvault/capture/ring/ringtest"
	"github.com/spanvault/spanvault/internal/testkit"
	"github.com/spanvault/spanvault/vault"
	"github.com/spanvault/spanvault/vault/export"
)

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// spanvaultBinary builds cmd/spanvault once per test process.
func spanvaultBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "spanvault-e2e")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "spanvault")
		// Built as the image builds it: no cgo (capabilities can then be
		// dropped on every thread).
		buildErr = testkit.Build("../cmd/spanvault", binPath)
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

const (
	agentToken      = "agent-secret-token"
	otherAgentToken = "other-agent-secret-token"
)

type box struct {
	t      *testing.T
	ns     *ringtest.Netns
	dir    string
	cfg    string
	vault  string
	key    *age.X25519Identity
	cmd    *exec.Cmd
	logs   *lockedBuffer
	apiURL string
	apiTLS *http.Client
	client *http.Client
	url    string
	ledDir string
}

func newBox(t *testing.T, ns *ringtest.Netns, extra string) *box {
	t.Helper()
	b := &box{t: t, ns: ns, dir: t.TempDir(), client: ns.HTTPClient(), url: "http://127.0.0.1:18080", apiURL: "https://127.0.0.1:18443"}
	b.key, _ = age.GenerateX25519Identity()
	os.WriteFile(filepath.Join(b.dir, "recipients.txt"), []byte(b.key.Recipient().String()+"\n"), 0o600)
	b.ledDir = filepath.Join(b.dir, "leds", "ACT")
	os.MkdirAll(b.ledDir, 0o755)
	os.WriteFile(filepath.Join(b.ledDir, "trigger"), []byte("[mmc0] none"), 0o644)
	os.WriteFile(filepath.Join(b.ledDir, "brightness"), []byte("0"), 0o644)
	sum := sha256.Sum256([]byte(agentToken))
	sum8 := sha256.Sum256([]byte(otherAgentToken))
	b.vault = filepath.Join(b.dir, "vault")
	cfg := fmt.Sprintf(`
[vault]
dir = "vault"
recipients = "recipients.txt"
sweep_every = "1m"
min_free = "1MiB"

[capture]
interface = "lo"
fanout = 2
media_timeout = "30s"
extensions = ["2xxx"]

[status]
listen = "127.0.0.1:18080"

[api]
listen = "127.0.0.1:18443"

[[api.token]]
name = "desk-7"
role = "agent"
sha256 = "%s"
extensions = ["2xxx", "3xxx"]

[[api.token]]
name = "desk-8"
role = "agent"
sha256 = "%s"
extensions = ["2001"]

[led]
root = "leds"

[clock]
require_sync = false
%s
`, hex.EncodeToString(sum[:]), hex.EncodeToString(sum8[:]), extra)
	b.cfg = filepath.Join(b.dir, "spanvault.toml")
	os.WriteFile(b.cfg, []byte(cfg), 0o600)
	return b
}

func (b *box) start() {
	b.t.Helper()
	b.logs = &lockedBuffer{}
	b.cmd = b.ns.Command(spanvaultBinary(b.t), "run", "-config", b.cfg)
	b.cmd.Stdout, b.cmd.Stderr = b.logs, b.logs
	if err := b.cmd.Start(); err != nil {
		b.t.Fatal(err)
	}
	b.t.Cleanup(func() {
		if b.cmd.ProcessState == nil {
			b.cmd.Process.Kill()
			b.cmd.Wait()
		}
	})
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if resp, err := b.client.Get(b.url + "/api/status"); err == nil {
			resp.Body.Close()
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	b.t.Fatalf("daemon did not come up:\n%s", b.logs)
}

// stop sends SIGTERM and waits for a clean exit.
func (b *box) stop() {
	b.t.Helper()
	b.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- b.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			b.t.Fatalf("daemon exited with %v:\n%s", err, b.logs)
		}
	case <-time.After(30 * time.Second):
		b.cmd.Process.Kill()
		b.t.Fatalf("daemon did not stop on SIGTERM:\n%s", b.logs)
	}
}

func (b *box) status() map[string]any {
	b.t.Helper()
	resp, err := b.client.Get(b.url + "/api/status")
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	json.NewDecoder(resp.Body).Decode(&m)
	return m
}

func num(m map[string]any, path ...string) float64 {
	var cur any = m
	for _, p := range path {
		mm, _ := cur.(map[string]any)
		cur = mm[p]
	}
	f, _ := cur.(float64)
	return f
}

func (b *box) api(action, call, token string) (int, map[string]any) {
	b.t.Helper()
	body := fmt.Sprintf(`{"call": %q}`, call)
	req, _ := http.NewRequest("POST", b.apiURL+"/api/v1/"+action, strings.NewReader(body))
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := b.apiClient().Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	json.NewDecoder(resp.Body).Decode(&m)
	return resp.StatusCode, m
}

// callState asks the API for a call's state.
func (b *box) callState(call string) string {
	req, _ := http.NewRequest("GET", b.apiURL+"/api/v1/call?call="+call, nil)
	req.Header.Set("Authorization", "Bearer "+agentToken)
	resp, err := b.apiClient().Do(req)
	if err != nil {
		return ""
	}
	defer resp.Body.Close()
	var m map[string]any
	json.NewDecoder(resp.Body).Decode(&m)
	s, _ := m["state"].(string)
	return s
}

// page fetches the status page's HTML.
func (b *box) page() string {
	b.t.Helper()
	resp, err := b.client.Get(b.url + "/")
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return string(body)
}

func (b *box) metrics() map[string]float64 {
	b.t.Helper()
	resp, err := b.client.Get(b.url + "/metrics")
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 2 && !strings.HasPrefix(f[0], "#") {
			v, _ := strconv.ParseFloat(f[1], 64)
			out[f[0]] = v
		}
	}
	return out
}

func scenario(t *testing.T, dir, name string, repl ...string) string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "capture", "testdata", "sipp", name))
	if err != nil {
		t.Fatal(err)
	}
	s := strings.NewReplacer(repl...).Replace(string(raw))
	p := filepath.Join(dir, fmt.Sprintf("scen-%d.xml", len(repl)+len(s)))
	os.WriteFile(p, []byte(s), 0o644)
	return p
}

const dtmfBlock = `<nop>
    <action>
      <exec play_pcap_audio="[$dtmf]"/>
    </action>
  </nop>`

type sippRun struct {
	cmd *exec.Cmd
	out *bytes.Buffer
}

func sipp(t *testing.T, ns *ringtest.Netns, args ...string) *sippRun {
	t.Helper()
	bin, err := exec.LookPath("sipp")
	if err != nil {
		t.Fatal("sipp not installed: run scripts/install-deps.sh")
	}
	r := &sippRun{out: &bytes.Buffer{}}
	r.cmd = ns.Command(bin, append(args, "-nostdin", "-timeout", "60s")...)
	r.cmd.Stdout, r.cmd.Stderr = r.out, r.out
	if err := r.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.cmd.Process.Kill(); r.cmd.Wait() })
	return r
}

func (r *sippRun) wait(t *testing.T) {
	t.Helper()
	if err := r.cmd.Wait(); err != nil {
		t.Fatalf("sipp: %v\n%s", err, r.out)
	}
}

// waitFor polls cond until it holds.
func waitFor(t *testing.T, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if cond() {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("timed out waiting for %s", what)
}

func openVault(t *testing.T, b *box) *vault.Vault {
	t.Helper()
	v, err := vault.Open(vault.Options{Dir: b.vault})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { v.Close() })
	return v
}

// TestApplianceEndToEnd runs the daemon as the box would, with sipp
// calls on loopback in a network namespace: recordings reach the vault,
// the status page and /metrics count them, pause/resume and consent work
// through the local API, the page renders in headless chromium without a
// phone number, and SIGTERM mid-call seals the call.
func TestApplianceEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test skipped in -short mode")
	}
	ns := ringtest.NewNetns(t, "svbox")
	b := newBox(t, ns, `
[retention]
default_class = "default"
[[retention.class]]
name = "default"
record = true
max_age = "90d"
[[retention.rule]]
numbers = ["2xxx"]
agent_only = true
class = "default"
`)
	b.start()
	// The daemon's output reaches the buffer through exec's copying
	// goroutine, after the status page may already answer: wait for it.
	waitFor(t, "the daemon to report its capabilities dropped", 10*time.Second, func() bool {
		return strings.Contains(b.logs.String(), "capabilities dropped")
	})
	// Every thread of the daemon runs at the configured priority (nice
	// -10 by default), the ones the runtime starts later included.
	tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/stat", b.cmd.Process.Pid))
	for _, task := range tasks {
		st, err := os.ReadFile(task)
		if err != nil {
			continue
		}
		f := strings.Fields(string(st[bytes.LastIndexByte(st, ')')+2:]))
		if len(f) > 16 && f[16] != "-10" {
			t.Fatalf("%s: nice %s, want -10", task, f[16])
		}
	}
	if len(tasks) < 2 {
		t.Fatalf("daemon threads: %v", tasks)
	}
	waitFor(t, "the LED to be taken over", 5*time.Second, func() bool {
		tr, _ := os.ReadFile(filepath.Join(b.ledDir, "trigger"))
		return string(tr) == "none"
	})

	g711 := "/usr/share/sip-tester/g711a.pcap"
	dtmf := "/usr/share/sip-tester/dtmf_2833_1.pcap"
	work := t.TempDir()
	// An independent capture of what sipp sends, to check /metrics against.
	ref := filepath.Join(work, "ref.pcapng")
	dumpcap := ns.Command("dumpcap", "-q", "-i", "lo", "-f", "udp", "-w", ref)
	if err := dumpcap.Start(); err != nil {
		t.Fatalf("dumpcap (wireshark-common, installed with tshark): %v", err)
	}
	t.Cleanup(func() { dumpcap.Process.Kill(); dumpcap.Wait() })
	apiPcap := filepath.Join(work, "api.pcapng")
	apiCap := ns.Command("dumpcap", "-q", "-i", "lo", "-f", "tcp port 18443", "-w", apiPcap)
	if err := apiCap.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { apiCap.Process.Kill(); apiCap.Wait() })
	time.Sleep(500 * time.Millisecond)
	uas := sipp(t, ns, "-sf", scenario(t, work, "uas.xml"), "-i", "127.0.0.1", "-p", "5070", "-mi", "127.0.0.1", "-mp", "20000", "-m", "7")
	time.Sleep(200 * time.Millisecond)

	// 1. Four plain calls, two-sided (callee 3001 is not an agent extension).
	plain := scenario(t, work, "uac.xml", "[$audio]", g711, dtmfBlock, "")
	sipp(t, ns, "127.0.0.1:5070", "-sf", plain, "-s", "3001", "-i", "127.0.0.1", "-p", "6070", "-mi", "127.0.0.1", "-mp", "30000", "-m", "4", "-r", "10").wait(t)

	// 2. Pause/resume: a DTMF digit is sent 3 s into the call, inside the
	// paused span.
	midDTMF := scenario(t, work, "uac.xml", "[$audio]", g711, "[$dtmf]", dtmf,
		`<pause milliseconds="7500"/>
  `+dtmfBlock, `<pause milliseconds="3000"/>
  `+strings.ReplaceAll(dtmfBlock, "[$dtmf]", dtmf)+`
  <pause milliseconds="4500"/>`)
	pc := sipp(t, ns, "127.0.0.1:5070", "-sf", midDTMF, "-s", "3002", "-i", "127.0.0.1", "-p", "6071", "-mi", "127.0.0.1", "-mp", "32000", "-m", "1")
	// Wait until the call is up, looking it up by the callee's extension.
	b.waitFor("the pause call to be answered", 10*time.Second, func() bool { return b.callState("3002") == "answered" })
	time.Sleep(1500 * time.Millisecond)
	if code, _ := b.api("pause", "3002", "wrong-token"); code != http.StatusUnauthorized {
		t.Fatalf("bad token: %d", code)
	}
	if code, _ := b.api("pause", "3999", agentToken); code != http.StatusNotFound {
		t.Fatalf("unknown call: %d", code)
	}
	// Another agent (desk-8, extension 2001) may not touch 3002's call,
	// and nobody may use the API in clear on the status port.
	if code, r := b.api("pause", "3002", otherAgentToken); code != http.StatusForbidden {
		t.Fatalf("desk-8 pausing 3002's call: %d %v", code, r)
	}
	plainReq, _ := http.NewRequest("POST", b.url+"/api/v1/pause", strings.NewReader(`{"call":"3002"}`))
	plainReq.Header.Set("Authorization", "Bearer "+agentToken)
	if resp, err := b.client.Do(plainReq); err != nil || resp.StatusCode != http.StatusMisdirectedRequest {
		t.Fatalf("API in clear on the status port: %v %v", resp, err)
	}
	req, _ := http.NewRequest("POST", b.apiURL+"/api/v1/pause", strings.NewReader(`{"call":`))
	req.Header.Set("Authorization", "Bearer "+agentToken)
	if resp, err := b.apiClient().Do(req); err != nil || resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("malformed request: %v %v", resp, err)
	}
	code, pr := b.api("pause", "3002", agentToken)
	if code != 200 || pr["paused"] != true {
		t.Fatalf("pause: %d %v\nstatus %v\n%s", code, pr, b.status(), b.logs)
	}
	time.Sleep(3 * time.Second)
	if code, r := b.api("resume", "3002", agentToken); code != 200 {
		t.Fatalf("resume: %d %v\nstatus %v\n%s", code, r, b.status(), b.logs)
	}
	pc.wait(t)

	// 3. One-sided until consent: the callee 2001 is an agent extension
	// under an agent_only rule; consent is given 2 s into the call.
	cc := sipp(t, ns, "127.0.0.1:5070", "-sf", plain, "-s", "2001", "-i", "127.0.0.1", "-p", "6073", "-mi", "127.0.0.1", "-mp", "36000", "-m", "1")
	waitFor(t, "the consent call to be answered", 10*time.Second, func() bool { return b.callState("2001") == "answered" })
	time.Sleep(2 * time.Second)
	if code, r := b.api("consent", "2001", agentToken); code != 200 || r["consented"] != true {
		t.Fatalf("consent: %d %v", code, r)
	}
	cc.wait(t)

	waitFor(t, "6 calls to end", 20*time.Second, func() bool { return num(b.status(), "calls", "ended_today") >= 6 })
	st := b.status()
	if got := num(st, "calls", "recorded_today"); got != 6 {
		t.Fatalf("status page counts %v recorded calls, want 6", got)
	}
	m := b.metrics()
	dumpcap.Process.Signal(syscall.SIGTERM)
	dumpcap.Wait()
	wantMedia, wantSIP := refCounts(t, ref)
	if wantMedia < 6*236 {
		t.Fatalf("reference capture holds only %d media packets", wantMedia)
	}
	if want := float64(wantMedia); m["spanvault_media_packets_total"] != want {
		t.Errorf("metrics media packets %v, sipp sent %v: %v", m["spanvault_media_packets_total"], want, m)
		v, _ := vault.Open(vault.Options{Dir: b.vault, ReadOnly: true})
		if v != nil {
			es, _ := v.List()
			for _, e := range es {
				t.Logf("%s %s %+v", e.ID, e.CallState, e.Streams)
			}
			v.Close()
		}
		t.FailNow()
	}
	if want := float64(wantSIP); m["spanvault_sip_messages_total"] != want {
		t.Fatalf("metrics SIP messages %v, sipp sent %v", m["spanvault_sip_messages_total"], want)
	}
	if m["spanvault_capture_kernel_drops_total"] != 0 || m["spanvault_calls_recorded_total"] != 6 {
		t.Fatalf("metrics %v", m)
	}

	// The status page in a real browser: the figures, and no phone number.
	dom, shot := chromium(t, ns, b.url+"/")
	for _, want := range []string{`id="recorded-today">6<`, `id="sync">not configured<`, `id="drops" class="ok">0<`, "Recording normally"} {
		if !strings.Contains(dom, want) {
			t.Fatalf("rendered page lacks %q:\n%s", want, dom)
		}
	}
	if strings.Contains(dom, "4930777") || strings.Contains(dom, "@127.0.0.1") {
		t.Fatal("status page shows a phone number or SIP URI")
	}
	t.Logf("status page screenshot: %s", shot)

	// 4. SIGTERM during a call seals it as ended by shutdown.
	long := sipp(t, ns, "127.0.0.1:5070", "-sf", plain, "-s", "3003", "-i", "127.0.0.1", "-p", "6072", "-mi", "127.0.0.1", "-mp", "34000", "-m", "1")
	waitFor(t, "the last call to be answered", 10*time.Second, func() bool { return b.callState("3003") == "answered" })
	time.Sleep(2 * time.Second)
	b.stop()
	long.cmd.Process.Kill()
	uas.cmd.Process.Kill()

	v := openVault(t, b)
	ids := []age.Identity{b.key}
	es, _ := v.List()
	var shutdownSealed, pausedChecked, consentChecked int
	for _, e := range es {
		if !e.Recorded {
			continue
		}
		p, err := v.Personal(e.ID, ids)
		if err != nil {
			t.Fatal(err)
		}
		if e.EndReason == "ended by shutdown" {
			if e.State != vault.StateComplete {
				t.Fatalf("call ended by shutdown is %s, want complete (sealed)", e.State)
			}
			shutdownSealed++
		}
		if strings.HasPrefix(p.To, "sip:3002@") {
			checkPaused(t, v, e, p, ids)
			pausedChecked++
		}
		if strings.HasPrefix(p.To, "sip:2001@") {
			checkConsent(t, v, e, p, ids)
			consentChecked++
		}
	}
	if shutdownSealed != 1 || pausedChecked != 1 || consentChecked != 1 {
		t.Fatalf("sealed by shutdown %d, paused call checked %d, consent call checked %d", shutdownSealed, pausedChecked, consentChecked)
	}
	rep, err := v.Fsck(false)
	if err != nil || !rep.Clean() {
		t.Fatalf("fsck after SIGTERM: %v %v", rep.Problems, err)
	}
	// The API calls were audited with the token's name and no Call-ID.
	aes, _ := v.AuditEntries(1, 10000)
	var pauses int
	for _, a := range aes {
		if a.Action == "pause" && a.Actor == "api:desk-7" {
			pauses++
			if strings.Contains(a.Detail, "@") {
				t.Fatalf("audit detail holds personal data: %q", a.Detail)
			}
		}
	}
	if pauses != 1 {
		t.Fatalf("%d pause audit entries", pauses)
	}
	denied := false
	for _, a := range aes {
		denied = denied || a.Action == "api_denied" && a.Actor == "api:desk-8"
	}
	if !denied {
		t.Fatal("desk-8's attempt on another agent's call was not audited")
	}
	// A capture of the API port holds no token and no number in clear.
	apiCap.Process.Signal(syscall.SIGTERM)
	apiCap.Wait()
	raw, err := os.ReadFile(apiPcap)
	if err != nil || len(raw) < 2000 {
		t.Fatalf("API capture: %d bytes, %v", len(raw), err)
	}
	for _, secret := range []string{agentToken, otherAgentToken, "Bearer", "3002", "pause"} {
		if bytes.Contains(raw, []byte(secret)) {
			t.Fatalf("%q crossed the wire in clear", secret)
		}
	}
}

// checkPaused: no media packet and no telephone-event of the paused span
// reached the vault, and the audio is silent exactly there.
func checkPaused(t *testing.T, v *vault.Vault, e *vault.Entry, p *vault.Personal, ids []age.Identity) {
	t.Helper()
	var pauseAt, resumeAt time.Time
	for _, ev := range p.Events {
		switch ev.Kind {
		case "pause":
			pauseAt = ev.Time
		case "resume":
			resumeAt = ev.Time
		case "dtmf":
			t.Fatalf("a DTMF digit sent while paused is in the vault: %+v", ev)
		}
	}
	if pauseAt.IsZero() || !resumeAt.After(pauseAt) {
		t.Fatalf("pause events: %v %v", pauseAt, resumeAt)
	}
	frames, _, err := export.Frames(v, e.ID, ids)
	if err != nil {
		t.Fatal(err)
	}
	var before, after int
	for _, f := range frames {
		if calls.Kind(f.Kind) != calls.KindRTP {
			continue
		}
		switch {
		case f.Time.Before(pauseAt):
			before++
		case f.Time.After(resumeAt):
			after++
		default:
			t.Fatalf("media packet at %v inside the paused span %v..%v", f.Time, pauseAt, resumeAt)
		}
		if len(f.Data) > 43 && f.Data[43]&0x7f == 101 {
			t.Fatal("telephone-event packet stored")
		}
	}
	if before == 0 || after == 0 {
		t.Fatalf("media before pause %d, after resume %d", before, after)
	}
	res, err := audio.Render(export.AudioPackets(frames, e.Formats))
	if err != nil {
		t.Fatal(err)
	}
	// Silence in both channels for the paused span (with a packet of
	// slack at each edge).
	from := int(pauseAt.Sub(res.Start).Seconds()*float64(res.Rate)) + 480
	to := int(resumeAt.Sub(res.Start).Seconds()*float64(res.Rate)) - 480
	for i := from; i < to && i < len(res.Left); i++ {
		if res.Left[i] != 0 || res.Right[i] != 0 {
			t.Fatalf("sample %d inside the pause is not silent", i)
		}
	}
}

// refCounts counts, with tshark, the RTP and SIP packets of a reference
// capture: the media and signalling that was actually sent.
func refCounts(t *testing.T, path string) (media, sipMsgs int) {
	t.Helper()
	out, err := exec.Command("tshark", "-r", path, "-T", "fields", "-e", "udp.srcport", "-e", "udp.dstport").Output()
	if err != nil {
		t.Fatalf("tshark: %v", err)
	}
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(l)
		if len(f) != 2 {
			continue
		}
		sp, _ := strconv.Atoi(f[0])
		dp, _ := strconv.Atoi(f[1])
		if (sp >= 5070 && sp < 5080) || (dp >= 5070 && dp < 5080) {
			sipMsgs++
		} else {
			media++
		}
	}
	return media, sipMsgs
}

// checkConsent: before consent only the agent's direction (the callee,
// 2001, is the agent) reached the vault; after it, both.
func checkConsent(t *testing.T, v *vault.Vault, e *vault.Entry, p *vault.Personal, ids []age.Identity) {
	t.Helper()
	var consentAt time.Time
	for _, ev := range p.Events {
		if ev.Kind == "consent" {
			consentAt = ev.Time
		}
	}
	if consentAt.IsZero() {
		t.Fatal("no consent event")
	}
	frames, _, err := export.Frames(v, e.ID, ids)
	if err != nil {
		t.Fatal(err)
	}
	var agentBefore, customerBefore, customerAfter int
	for _, f := range frames {
		if calls.Kind(f.Kind) != calls.KindRTP {
			continue
		}
		customer := calls.Dir(f.Dir) == calls.AtoB
		switch {
		case f.Time.Before(consentAt) && customer:
			customerBefore++
		case f.Time.Before(consentAt):
			agentBefore++
		case customer:
			customerAfter++
		}
	}
	if customerBefore != 0 || agentBefore == 0 || customerAfter == 0 {
		t.Fatalf("before consent: agent %d customer %d packets; after: customer %d", agentBefore, customerBefore, customerAfter)
	}
}

// chromium renders a page headless inside the namespace and returns its
// DOM and a screenshot path (kept under build/artifacts).
func chromium(t *testing.T, ns *ringtest.Netns, url string) (string, string) {
	t.Helper()
	bin := ""
	for _, c := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(c); err == nil {
			bin = p
			break
		}
	}
	if bin == "" {
		t.Fatal("chromium not installed: run scripts/install-deps.sh")
	}
	prof := t.TempDir()
	flags := []string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync", "--user-data-dir=" + prof}
	out, err := ns.Command(bin, append(flags, "--dump-dom", url)...).Output()
	if err != nil {
		t.Fatalf("chromium --dump-dom: %v", err)
	}
	art, _ := filepath.Abs(filepath.Join("..", "build", "artifacts"))
	os.MkdirAll(art, 0o755)
	shot := filepath.Join(art, "status-page.png")
	cmd := ns.Command(bin, append(flags, "--window-size=1100,1900", "--screenshot="+shot, url)...)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("chromium --screenshot: %v: %s", err, b)
	}
	if st, err := os.Stat(shot); err != nil || st.Size() < 1000 {
		t.Fatalf("no screenshot: %v", err)
	}
	return string(out), shot
}

// lockedBuffer collects a child's output; exec copies into it from its own
// goroutine while the test reads it.
type lockedBuffer = testkit.LockedBuffer

// apiClient talks to the local API over TLS inside the namespace, trusting
// the self-signed certificate the daemon made in its vault directory.
func (b *box) apiClient() *http.Client {
	if b.apiTLS != nil {
		return b.apiTLS
	}
	pemBytes, err := os.ReadFile(filepath.Join(b.vault, "api.crt"))
	if err != nil {
		b.t.Fatalf("the daemon made no API certificate: %v", err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pemBytes)
	// Kept alive: one TLS handshake, not one per request, so that the
	// pause lands as promptly as it did in clear (the test sends a DTMF
	// digit 1.5 s after the pause and checks it is not stored).
	b.apiTLS = &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DialContext: b.ns.DialContext,
		TLSClientConfig: &tls.Config{RootCAs: pool}}}
	return b.apiTLS
}

// waitFor is the package's waitFor with the daemon's status and log in the
// failure, for a diagnosis.
func (b *box) waitFor(what string, d time.Duration, cond func() bool) {
	b.t.Helper()
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if cond() {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	b.t.Fatalf("timed out waiting for %s\nstatus %v\n%s", what, b.status(), b.logs)
}
