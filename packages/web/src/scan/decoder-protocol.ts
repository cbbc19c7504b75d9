export interface DecodeRequest {
  id: number;
  width: number;
  height: number;
  pixels: ArrayBuffer;
}
export interface DecodeReply {
  id: number;
  text: string | null;
  ms: number;
}
