package lakelog

import (
	"bytes"
	"testing"
)

func TestZ85SpecVector(t *testing.T) {
	// ZeroMQ RFC 32's test vector.
	raw := []byte{0x86, 0x4F, 0xD2, 0x6F, 0xB5, 0x59, 0xF7, 0x5B}
	if got := Z85Encode(raw); got != "HelloWorld" {
		t.Fatalf("encode = %q, want HelloWorld", got)
	}
	got, err := Z85Decode("HelloWorld")
	if err != nil || !bytes.Equal(got, raw) {
		t.Fatalf("decode = %x, %v", got, err)
	}
	for _, bad := range []string{"Hell", "Hell~World", "#####"} { // length, alphabet, overflow
		if _, err := Z85Decode(bad); err == nil {
			t.Fatalf("Z85Decode(%q) succeeded", bad)
		}
	}
}

func TestDVStoreKey(t *testing.T) {
	// The Spark fixture table-with-dv-small names its DV vBn[lx{q8@P<9BNH/isA
	// and stores it as deletion_vector_61d16c75-6994-46b7-a15b-8b538852e50e.bin.
	d := &DeletionVector{StorageType: "u", PathOrInlineDv: "vBn[lx{q8@P<9BNH/isA"}
	if got, err := d.StoreKey(); err != nil || got != "deletion_vector_61d16c75-6994-46b7-a15b-8b538852e50e.bin" {
		t.Fatalf("StoreKey = %q, %v", got, err)
	}
	var uuid [16]byte
	copy(uuid[:], []byte{0x86, 0x4F, 0xD2, 0x6F, 0xB5, 0x59, 0xF7, 0x5B, 0x86, 0x4F, 0xD2, 0x6F, 0xB5, 0x59, 0xF7, 0x5B})
	p, key := RelativeDV("ab", uuid)
	if p != "abHelloWorldHelloWorld" || key != "ab/deletion_vector_864fd26f-b559-f75b-864f-d26fb559f75b.bin" {
		t.Fatalf("RelativeDV = %q, %q", p, key)
	}
	if _, err := (&DeletionVector{StorageType: "u", PathOrInlineDv: "short"}).StoreKey(); err == nil {
		t.Fatal("short path accepted")
	}
}
