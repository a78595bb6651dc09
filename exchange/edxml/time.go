package edxml

import (
	"fmt"
	"time"
)

// Vietnam is Asia/Ho_Chi_Minh: UTC+07:00 with no daylight saving time, fixed so that no tzdata is needed.
var Vietnam = time.FixedZone("ICT", 7*60*60)

const (
	dateLayout      = "2006/01/02"
	timestampLayout = "2006/01/02 15:04:05"
)

// FormatDate renders t as yyyy/MM/dd in Vietnam time.
func FormatDate(t time.Time) string { return t.In(Vietnam).Format(dateLayout) }

// FormatTimestamp renders t as yyyy/MM/dd HH:mm:ss in Vietnam time (the standard carries no zone).
func FormatTimestamp(t time.Time) string { return t.In(Vietnam).Format(timestampLayout) }

// ParseDate reads yyyy/MM/dd as a Vietnam calendar date (midnight +07:00).
func ParseDate(s string) (time.Time, error) {
	t, err := time.ParseInLocation(dateLayout, s, Vietnam)
	if err != nil {
		return time.Time{}, fmt.Errorf("date %q is not yyyy/MM/dd", s)
	}
	return t, nil
}

// ParseTimestamp reads yyyy/MM/dd HH:mm:ss as Vietnam time.
func ParseTimestamp(s string) (time.Time, error) {
	t, err := time.ParseInLocation(timestampLayout, s, Vietnam)
	if err != nil {
		return time.Time{}, fmt.Errorf("timestamp %q is not yyyy/MM/dd HH:mm:ss", s)
	}
	return t, nil
}
