package rollout

import (
	"strconv"
	"time"
)

// pacer holds back a rollout for canaries and pauses between waves. It keeps
// only timers, no record of progress: progress is read from the pool, so a
// resumed run re-derives it (and re-soaks, the safe side).
type pacer struct {
	s       Strategy
	size    int
	wave    int // nodes per wave
	rolling bool

	canaryPassed bool
	soakStart    time.Time
	holdUntil    time.Time
	wavesDone    int
}

func newPacer(s Strategy, size int, b Budget, rolling bool) *pacer {
	return &pacer{s: s, size: size, wave: max(1, b.Concurrency()), rolling: rolling}
}

// limits returns the cap on target nodes and whether to hold, given the
// target nodes available now, and a message when a pause begins.
func (p *pacer) limits(now time.Time, newAvail int) (maxNew int, hold bool, pause string) {
	if !p.rolling {
		return p.size, false, ""
	}
	if p.s.CanaryCount > 0 && !p.canaryPassed {
		canary := min(p.size, p.s.CanaryCount)
		if newAvail < canary {
			return canary, false, ""
		}
		if p.soakStart.IsZero() {
			p.soakStart = now
			if p.s.CanarySoak > 0 {
				pause = "canary: " + strconv.Itoa(canary) + " node(s) healthy, soaking for " + p.s.CanarySoak.String()
			}
		}
		if now.Sub(p.soakStart) < p.s.CanarySoak {
			return canary, true, pause
		}
		p.canaryPassed = true
		p.wavesDone = 0
		p.holdUntil = now
	}
	if p.s.PauseBetweenWaves <= 0 {
		return p.size, false, ""
	}
	base := 0
	if p.s.CanaryCount > 0 {
		base = min(p.size, p.s.CanaryCount)
	}
	done := max(0, newAvail-base) / p.wave
	if done > p.wavesDone && newAvail < p.size {
		p.wavesDone = done
		p.holdUntil = now.Add(p.s.PauseBetweenWaves)
		pause = "wave " + strconv.Itoa(done) + " done, pausing for " + p.s.PauseBetweenWaves.String()
	}
	return min(p.size, base+(p.wavesDone+1)*p.wave), now.Before(p.holdUntil), pause
}
