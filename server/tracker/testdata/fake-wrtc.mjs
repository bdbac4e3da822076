// A stand-in for the 'webrtc-polyfill' module (whose native addon,
// node-datachannel, is not installed): RTCPeerConnection produces dummy SDP
// and finishes ICE gathering at once, which is all simple-peer needs to
// emit offers and answers. interop.mjs maps the module here.
let pcs = 0
class FakeDataChannel {
  constructor (label) {
    this.label = label
    this.readyState = 'connecting'
    this.bufferedAmount = 0
    this.binaryType = 'arraybuffer'
  }

  send () {}
  close () { this.readyState = 'closed' }
}
class FakeRTCPeerConnection {
  constructor () {
    this.n = ++pcs
    this.localDescription = null
    this.remoteDescription = null
    this.signalingState = 'stable'
    this.iceConnectionState = 'new'
    this.iceGatheringState = 'new'
    this.connectionState = 'new'
  }

  createDataChannel (label) { return new FakeDataChannel(label) }
  _sdp (type) { return `v=0\r\no=- ${this.n} 2 IN IP4 127.0.0.1\r\ns=fake-${type}\r\nt=0 0\r\na=ice-ufrag:fake${this.n}\r\n` }
  async createOffer () { return { type: 'offer', sdp: this._sdp('offer') } }
  async createAnswer () { return { type: 'answer', sdp: this._sdp('answer') } }
  async setLocalDescription (d) {
    this.localDescription = d
    // ICE gathering finishes at once: the end-of-candidates event.
    setTimeout(() => {
      this.iceGatheringState = 'complete'
      this.onicegatheringstatechange?.()
      this.onicecandidate?.({ candidate: null })
    }, 1)
  }

  async setRemoteDescription (d) { this.remoteDescription = d }
  async addIceCandidate () {}
  getStats (cb) { if (cb) cb([]); else return Promise.resolve(new Map()) }
  getSenders () { return [] }
  close () { this.signalingState = 'closed' }
}
export const RTCPeerConnection = FakeRTCPeerConnection
export class RTCSessionDescription { constructor (d) { Object.assign(this, d) } }
export class RTCIceCandidate { constructor (c) { Object.assign(this, c) } }

