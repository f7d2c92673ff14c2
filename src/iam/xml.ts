// The little XML the AWS query protocol answers with: elements of text or of other elements.
// (AWS's query responses are plain element trees: no attributes besides the namespace, no mixed content.)

export type XmlNode = string | number | boolean | undefined | XmlNode[] | { [name: string]: XmlNode };

export function escapeXml(s: string): string {
  return s.replace(/[<>&"']/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&apos;' })[c] as string);
}

/** `<name>...</name>` for a value: text, nested elements (an object), or a list of `<member>`s (an array). */
export function element(name: string, value: XmlNode): string {
  if (value === undefined) return '';
  if (Array.isArray(value)) return `<${name}>${value.map((v) => element('member', v)).join('')}</${name}>`;
  if (typeof value === 'object') return `<${name}>${Object.entries(value).map(([k, v]) => element(k, v)).join('')}</${name}>`;
  return `<${name}>${escapeXml(String(value))}</${name}>`;
}

/** A whole response document: `<{Action}Response xmlns=...><{Action}Result>...</...><ResponseMetadata>...`. */
export function queryResponse(action: string, namespace: string, result: Record<string, XmlNode>, requestId: string): string {
  const body = element(`${action}Result`, result) + element('ResponseMetadata', { RequestId: requestId });
  return `<?xml version="1.0" encoding="UTF-8"?>\n<${action}Response xmlns="${escapeXml(namespace)}">${body}</${action}Response>\n`;
}

/** AWS's query error document. `Sender` for the caller's mistakes, `Receiver` for the service's. */
export function queryError(namespace: string, type: 'Sender' | 'Receiver', code: string, message: string, requestId: string): string {
  return `<?xml version="1.0" encoding="UTF-8"?>\n<ErrorResponse xmlns="${escapeXml(namespace)}">${element('Error', { Type: type, Code: code, Message: message })}${element('RequestId', requestId)}</ErrorResponse>\n`;
}
