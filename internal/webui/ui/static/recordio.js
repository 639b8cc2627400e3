// RecordIO, the framing of Mesos event streams: "<length>\n<bytes>" where
// length counts the bytes of the record, repeated.

// MAX_RECORD bounds one record (a SUBSCRIBED with the whole state is the
// largest); a longer header is a broken stream.
export const MAX_RECORD = 1 << 30;

const ascii = new TextDecoder('ascii');

// readRecords yields each record of a byte stream as a string. A record's
// bytes are copied once into a buffer of its announced size, so a large
// record split over many chunks costs no repeated concatenation.
export async function* readRecords(stream) {
  const reader = stream.getReader();
  const utf8 = new TextDecoder();
  let header = '';
  let record = null;
  let filled = 0;
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      let i = 0;
      while (i < value.length) {
        if (record === null) {
          const nl = value.indexOf(10, i);
          header += ascii.decode(value.subarray(i, nl < 0 ? value.length : nl));
          if (header.length > 12) throw new Error(`RecordIO: bad header "${header.slice(0, 20)}…"`);
          if (nl < 0) break;
          i = nl + 1;
          record = new Uint8Array(recordLength(header));
          header = '';
          filled = 0;
          if (record.length === 0) {
            record = null;
            yield '';
            continue;
          }
        }
        const n = Math.min(record.length - filled, value.length - i);
        record.set(value.subarray(i, i + n), filled);
        filled += n;
        i += n;
        if (filled === record.length) {
          yield utf8.decode(record);
          record = null;
        }
      }
    }
  } finally {
    reader.releaseLock();
  }
  if (record !== null || header !== '') throw new Error('RecordIO: stream ended inside a record');
}

function recordLength(header) {
  if (!/^\d+$/.test(header)) throw new Error(`RecordIO: bad header "${header}"`);
  const n = Number(header);
  if (n > MAX_RECORD) throw new Error(`RecordIO: record of ${n} bytes is too large`);
  return n;
}
