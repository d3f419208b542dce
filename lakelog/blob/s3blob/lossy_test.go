package s3blob_test

import (
	"net/http"
	"net/http/httptest"
	"sync/atomic"
)

// lossyPut forwards requests to next, but when failNext is set it lets the
// next PUT through and then replaces the response with a 503: the write
// happened, the client saw a transient failure.
type lossyPut struct {
	next     http.Handler
	failNext *atomic.Bool
}

func (l *lossyPut) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPut || !l.failNext.CompareAndSwap(true, false) {
		l.next.ServeHTTP(w, r)
		return
	}
	rec := httptest.NewRecorder()
	l.next.ServeHTTP(rec, r)
	w.WriteHeader(http.StatusServiceUnavailable)
	_, _ = w.Write([]byte(`<?xml version="1.0" encoding="UTF-8"?><Error><Code>ServiceUnavailable</Code><Message>injected</Message></Error>`))
}
