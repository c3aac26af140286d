// Run RTP negotiation data through the real mediasoup-client (the npm package
// pinned in package.json) and report what the client accepts and rejects.
//
// Reads one JSON job from stdin and writes one JSON result to stdout:
//
//   job = {
//     routerRtpCapabilities: {...},              // required
//     nativeRtpCapabilities: 'chrome' | 'library' | {...},  // default 'chrome'
//     produce: [{kind, codecMimeType?, codecParameters?, encodings?, codecOptions?}],
//     consumers: [{id, producerId, kind, rtpParameters}],
//   }
//
//   result = {
//     routerCapabilitiesValidation: {ok, error?},
//     load: {ok, error?},
//     recvRtpCapabilities, sendRtpCapabilities, canProduce: {audio, video},
//     produced: [{kind, ok, rtpParameters? | error?}],
//     consumers: [{id, validation: {ok, error?}, consume: {ok, error?}}],
//     remoteOffer: {sdp, problems: [string]},
//   }
//
// The device uses the library's FakeHandler, so Device.load(), Transport.produce()
// and Transport.consume() run the client's own validation and capability code
// without a browser. Unless nativeRtpCapabilities is 'library', a FakeHandler
// subclass also shapes producer rtpParameters as the Chrome111 handler does (see
// ChromeSendFakeHandler). Errors are reported as '<error name>: <message>',
// exactly as the client throws them. The exit code is 0 whenever a result was written, also
// when the client rejected something. It is 1 for an invalid job or a crash.
//
// Native capabilities:
// - 'chrome': chrome_offer.sdp (next to this file) parsed by the client's own
//   Chrome111.getLocalRtpCapabilities(), the code the Chrome111 handler runs on a
//   real browser offer. The SDP is hand-written in the shape of a desktop Chrome
//   offer, with Opus, VP8, VP9 profiles 0 and 2, AV1, and several H264 profiles
//   and packetization modes, each video codec with RTX. It was not captured from
//   a browser.
// - 'library': the client's own test fake parameters (opus, VP8, VP9 profile 0
//   and a few made-up codecs, no H264).
// - an object: used as given.
//
// FakeHandler.receive() builds no SDP, so the script also builds the remote SDP
// offer that the Chrome111 handler would pass to setRemoteDescription(), with the
// client's RemoteSdp class, and lists consistency problems in it (see
// checkRemoteOffer()).

import { randomInt } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import * as sdpTransform from 'sdp-transform';
import { FakeMediaStreamTrack } from 'fake-mediastreamtrack';
import {
	Device,
	FakeHandler,
	ortc,
	parseScalabilityMode,
	testFakeParameters,
	version,
} from 'mediasoup-client';
import { Chrome111 } from 'mediasoup-client/handlers/Chrome111';
import { RemoteSdp } from 'mediasoup-client/handlers/sdp/RemoteSdp';

const EXPECTED_CLIENT_VERSION = '3.24.1';
const HERE = path.dirname(fileURLToPath(import.meta.url));
const CHROME_OFFER_PATH = path.join(HERE, 'chrome_offer.sdp');

// Remote transport parameters in the shapes a server sends for createWebRtcTransport.
// Only their shapes matter: nothing connects to them.
const REMOTE_TRANSPORT = {
	iceParameters: {
		usernameFragment: 'pysfuclientcheckufrag0000000000a',
		password: 'pysfuclientcheckpassword00000000',
		iceLite: true,
	},
	iceCandidates: [
		{
			foundation: 'udpcandidate',
			priority: 1076302079,
			ip: '127.0.0.1',
			address: '127.0.0.1',
			protocol: 'udp',
			port: 40000,
			type: 'host',
		},
		{
			foundation: 'tcpcandidate',
			priority: 1076276479,
			ip: '127.0.0.1',
			address: '127.0.0.1',
			protocol: 'tcp',
			port: 40000,
			type: 'host',
			tcpType: 'passive',
		},
	],
	dtlsParameters: {
		role: 'auto',
		fingerprints: [
			{
				algorithm: 'sha-256',
				value:
					'A9:F4:E0:D2:74:D3:0F:D9:CA:A5:2F:9F:7F:47:FA:F0:C4:72:DD:73:49:D0:3B:14:90:20:51:30:1B:90:8E:71',
			},
		],
	},
};

function describeError(error) {
	if (error instanceof Error) {
		return `${error.name}: ${error.message}`;
	}
	return String(error);
}

function clone(value) {
	return value === undefined ? undefined : JSON.parse(JSON.stringify(value));
}

function readStdin() {
	return fs.readFileSync(0, 'utf8');
}

function chromeNativeCapabilities() {
	const sdpObject = sdpTransform.parse(fs.readFileSync(CHROME_OFFER_PATH, 'utf8'));
	return Chrome111.getLocalRtpCapabilities(sdpObject);
}

// Build the fake parameters object that FakeHandler.createFactory() expects.
// FakeHandler validates the native capabilities again on every call, so each call
// returns a fresh copy.
function makeFakeParameters(nativeSpec) {
	let generateNativeRtpCapabilities;

	if (nativeSpec === undefined || nativeSpec === 'chrome') {
		generateNativeRtpCapabilities = chromeNativeCapabilities;
	} else if (nativeSpec === 'library') {
		generateNativeRtpCapabilities = testFakeParameters.generateNativeRtpCapabilities;
	} else if (typeof nativeSpec === 'object' && nativeSpec !== null) {
		generateNativeRtpCapabilities = () => clone(nativeSpec);
	} else {
		throw new TypeError(`invalid job.nativeRtpCapabilities: ${JSON.stringify(nativeSpec)}`);
	}

	return {
		generateNativeRtpCapabilities,
		generateLocalDtlsParameters: testFakeParameters.generateLocalDtlsParameters,
	};
}

// FakeHandler.send() leaves out what the Chrome111 handler (3.24.1) does to a
// producer's rtpParameters after the browser's offer, so this subclass repeats
// those steps with the client's own helpers:
// - more than one encoding (simulcast): rids r0..rN, no SSRCs, and every
//   scalabilityMode set to L1T<highest temporal layer count, default 3>;
// - one or no encoding: an SSRC (and an RTX SSRC when an RTX codec is sent),
//   merged with the app's encoding as Chrome111 does;
// - mids "0", "1"... like transceiver mids;
// - codecOptions written into the codec parameters by RemoteSdp.send(), which
//   also removes plain NACK from Opus unless opusNack is set.
class ChromeSendFakeHandler extends FakeHandler {
	_sendRemoteSdp = new RemoteSdp(clone(REMOTE_TRANSPORT));
	_nextMid = 0;

	async send({ track, streamId, encodings, codecOptions, codec }) {
		this.assertNotClosed();
		if (!this._transportReady) {
			await this.setupTransport({ localDtlsRole: 'client' });
		}

		if (encodings && encodings.length > 1) {
			const temporalLayers = encodings.map((encoding) =>
				encoding.scalabilityMode ? parseScalabilityMode(encoding.scalabilityMode).temporalLayers : 3
			);
			const maxTemporalLayers = Math.max(1, ...temporalLayers);
			encodings.forEach((encoding, index) => {
				encoding.rid = `r${index}`;
				encoding.scalabilityMode = `L1T${maxTemporalLayers}`;
			});
		}

		const nativeRtpCapabilities = FakeHandler.getLocalRtpCapabilities(this._fakeParameters);
		const extendedRtpCapabilities = this._getSendExtendedRtpCapabilities(nativeRtpCapabilities);
		const sendingRtpParameters = ortc.getSendingRtpParameters(track.kind, extendedRtpCapabilities);
		sendingRtpParameters.codecs = ortc.reduceCodecs(sendingRtpParameters.codecs, codec);
		const answerRtpParameters = ortc.getSendingRemoteRtpParameters(track.kind, extendedRtpCapabilities);
		answerRtpParameters.codecs = ortc.reduceCodecs(answerRtpParameters.codecs, codec);

		const mid = String(this._nextMid++);
		sendingRtpParameters.mid = mid;
		sendingRtpParameters.rtcp = { cname: this._cname, reducedSize: true };
		sendingRtpParameters.msid = `${streamId ?? this._defaultSendStreamId} ${track.id}`;

		if (encodings && encodings.length > 1) {
			sendingRtpParameters.encodings = encodings;
		} else {
			const encoding = { ssrc: randomSsrc() };
			if (sendingRtpParameters.codecs.some((entry) => /\/rtx$/i.test(entry.mimeType))) {
				encoding.rtx = { ssrc: randomSsrc() };
			}
			sendingRtpParameters.encodings = [Object.assign(encoding, encodings?.[0])];
		}

		this._sendRemoteSdp.send({
			offerMediaObject: {
				mid,
				type: track.kind,
				protocol: 'UDP/TLS/RTP/SAVPF',
				ext: sendingRtpParameters.headerExtensions.map((ext) => ({ uri: ext.uri, value: ext.id })),
				extmapAllowMixed: 'extmap-allow-mixed',
			},
			reuseMid: undefined,
			offerRtpParameters: sendingRtpParameters,
			answerRtpParameters,
			codecOptions,
		});

		const localId = this._nextLocalId++;
		this._tracks.set(localId, track);
		return { localId: String(localId), rtpParameters: sendingRtpParameters };
	}
}

// Random non-zero 32-bit SSRCs, as libwebrtc draws them, so values above 2^31 occur.
function randomSsrc() {
	return randomInt(1, 0xffffffff);
}

function createHandlerFactory(nativeSpec) {
	const fakeParameters = makeFakeParameters(nativeSpec);
	if (nativeSpec === 'library') {
		return FakeHandler.createFactory(fakeParameters);
	}

	const libraryFactory = FakeHandler.createFactory(fakeParameters);
	return {
		...libraryFactory,
		factory: (options) => new ChromeSendFakeHandler(options, fakeParameters),
	};
}

function validateRouterCapabilities(routerRtpCapabilities) {
	try {
		ortc.validateAndNormalizeRtpCapabilities(clone(routerRtpCapabilities));
		return { ok: true };
	} catch (error) {
		return { ok: false, error: describeError(error) };
	}
}

function validateRtpParameters(rtpParameters) {
	try {
		ortc.validateAndNormalizeRtpParameters(clone(rtpParameters));
		return { ok: true };
	} catch (error) {
		return { ok: false, error: describeError(error) };
	}
}

function createTransport(device, direction, onProduce) {
	const options = { id: `${direction}-transport`, ...clone(REMOTE_TRANSPORT) };
	const transport =
		direction === 'send' ? device.createSendTransport(options) : device.createRecvTransport(options);

	transport.on('connect', (_parameters, callback) => callback());
	if (onProduce) {
		transport.on('produce', onProduce);
	}

	return transport;
}

// Pick the send capability codec for a produce request, the way an app passes
// `codec` to transport.produce(): the first codec with codecMimeType whose
// parameters include every entry of codecParameters. Without codecMimeType the
// client takes the first codec of the track's kind (router order).
function findSendCodec(device, request) {
	if (!request.codecMimeType) {
		return undefined;
	}

	const requestedMimeType = request.codecMimeType.toLowerCase();
	const requestedParameters = Object.entries(request.codecParameters ?? {});
	const codec = device.sendRtpCapabilities.codecs.find(
		(candidate) =>
			candidate.mimeType.toLowerCase() === requestedMimeType &&
			requestedParameters.every(([key, value]) => candidate.parameters[key] === value)
	);
	if (!codec) {
		throw new TypeError(
			`no send capability codec matches ${request.codecMimeType} ${JSON.stringify(request.codecParameters ?? {})}`
		);
	}

	return codec;
}

async function produceAll(device, requests) {
	const produced = [];
	if (requests.length === 0) {
		return produced;
	}

	let lastRtpParameters;
	let nextProducerId = 1;
	const transport = createTransport(device, 'send', ({ rtpParameters }, callback) => {
		lastRtpParameters = clone(rtpParameters);
		callback({ id: `producer-${nextProducerId++}` });
	});

	for (const request of requests) {
		lastRtpParameters = undefined;
		try {
			const track = new FakeMediaStreamTrack({ kind: request.kind });
			await transport.produce({
				track,
				codec: findSendCodec(device, request),
				encodings: clone(request.encodings),
				codecOptions: clone(request.codecOptions),
			});
			produced.push({ kind: request.kind, ok: true, rtpParameters: lastRtpParameters });
		} catch (error) {
			produced.push({ kind: request.kind, ok: false, error: describeError(error) });
		}
	}

	transport.close();
	return produced;
}

// Consume one by one so that one rejection cannot fail the others: the client
// batches consumers created in the same tick into one handler call.
async function consumeAll(device, consumers) {
	const results = [];
	const accepted = [];
	if (consumers.length === 0) {
		return { results, accepted };
	}

	const transport = createTransport(device, 'recv');

	for (const consumer of consumers) {
		const result = {
			id: consumer.id,
			validation: validateRtpParameters(consumer.rtpParameters),
		};
		try {
			const created = await transport.consume({
				id: consumer.id,
				producerId: consumer.producerId,
				kind: consumer.kind,
				rtpParameters: clone(consumer.rtpParameters),
			});
			result.consume = { ok: true };
			accepted.push({ id: consumer.id, kind: consumer.kind, rtpParameters: clone(created.rtpParameters) });
		} catch (error) {
			result.consume = { ok: false, error: describeError(error) };
		}
		results.push(result);
	}

	transport.close();
	return { results, accepted };
}

// Build the remote offer as Chrome111.receive() does for each consumer, plus the
// probator m-section that Transport adds after the first video consumer.
function buildRemoteOffer(accepted) {
	const remoteSdp = new RemoteSdp(clone(REMOTE_TRANSPORT));
	let probatorAdded = false;
	let sectionCount = 0;

	const addSection = (trackId, kind, rtpParameters) => {
		const msidStreamId = rtpParameters.msid ? rtpParameters.msid.split(' ')[0] : undefined;
		remoteSdp.receive({
			mid: rtpParameters.mid ?? String(sectionCount),
			kind,
			offerRtpParameters: rtpParameters,
			streamId: msidStreamId ?? rtpParameters.rtcp?.cname ?? '-',
			trackId,
		});
		sectionCount += 1;
	};

	for (const consumer of accepted) {
		addSection(consumer.id, consumer.kind, consumer.rtpParameters);
		if (consumer.kind === 'video' && !probatorAdded) {
			addSection('probator', 'video', ortc.generateProbatorRtpParameters(consumer.rtpParameters));
			probatorAdded = true;
		}
	}

	return remoteSdp.getSdp();
}

// List inconsistencies in the offer that a browser or SSRC-based demultiplexing
// would trip over. mediasoup-client itself checks none of them.
function checkRemoteOffer(sdp) {
	const problems = [];
	const sdpObject = sdpTransform.parse(sdp);
	const uriById = new Map();
	const sectionBySsrc = new Map();
	const mids = new Set();

	for (const media of sdpObject.media) {
		const mid = String(media.mid);
		if (mids.has(mid)) {
			problems.push(`mid ${mid}: used by two m-sections`);
		}
		mids.add(mid);

		const payloads = String(media.payloads).split(' ').map(Number);
		const rtpmapPayloads = new Set((media.rtp ?? []).map((rtp) => rtp.payload));
		if (new Set(payloads).size !== payloads.length) {
			problems.push(`mid ${mid}: duplicate payload type in m-line ${media.payloads}`);
		}
		for (const payload of payloads) {
			if (!rtpmapPayloads.has(payload)) {
				problems.push(`mid ${mid}: payload type ${payload} has no a=rtpmap`);
			}
		}

		// RFC 4588: an RTX payload type names its media payload type with apt.
		for (const rtp of media.rtp ?? []) {
			if (rtp.codec.toLowerCase() !== 'rtx') {
				continue;
			}
			const fmtp = (media.fmtp ?? []).find((entry) => entry.payload === rtp.payload);
			const apt = fmtp ? Number(sdpTransform.parseParams(fmtp.config).apt) : NaN;
			if (!payloads.includes(apt) || apt === rtp.payload) {
				problems.push(`mid ${mid}: rtx payload type ${rtp.payload} has apt ${apt}, not a media payload type here`);
			}
		}

		// RFC 8285 §4.2 and §4.3: ids 1-14 fit the one-byte header, and 1-255 the
		// two-byte header that a=extmap-allow-mixed permits. All sections share one
		// BUNDLE transport, so an id must name the same URI in every section.
		for (const ext of media.ext ?? []) {
			if (!Number.isInteger(ext.value) || ext.value < 1 || ext.value > 255) {
				problems.push(`mid ${mid}: extmap id ${ext.value} out of range 1-255 (${ext.uri})`);
			}
			const knownUri = uriById.get(ext.value);
			if (knownUri !== undefined && knownUri !== ext.uri) {
				problems.push(`mid ${mid}: extmap id ${ext.value} is ${ext.uri} here but ${knownUri} in another m-section`);
			}
			uriById.set(ext.value, ext.uri);
		}

		const ssrcs = new Set((media.ssrcs ?? []).map((line) => line.id));
		if (ssrcs.size === 0) {
			problems.push(`mid ${mid}: no a=ssrc line, so packets cannot be matched by SSRC`);
		}
		for (const ssrc of ssrcs) {
			const otherMid = sectionBySsrc.get(ssrc);
			if (otherMid !== undefined) {
				problems.push(`mid ${mid}: ssrc ${ssrc} also used by mid ${otherMid}`);
			}
			sectionBySsrc.set(ssrc, mid);
		}
	}

	return problems;
}

async function run(job) {
	if (typeof job !== 'object' || job === null || typeof job.routerRtpCapabilities !== 'object') {
		throw new TypeError('job.routerRtpCapabilities is missing or not an object');
	}
	if (version !== EXPECTED_CLIENT_VERSION) {
		throw new Error(`mediasoup-client ${version} installed, ${EXPECTED_CLIENT_VERSION} expected: run npm ci --prefix tests/node`);
	}

	const result = {
		clientVersion: version,
		routerCapabilitiesValidation: validateRouterCapabilities(job.routerRtpCapabilities),
	};

	const device = new Device({
		handlerFactory: createHandlerFactory(job.nativeRtpCapabilities),
	});
	try {
		await device.load({ routerRtpCapabilities: clone(job.routerRtpCapabilities) });
		result.load = { ok: true };
	} catch (error) {
		result.load = { ok: false, error: describeError(error) };
		return result;
	}

	result.recvRtpCapabilities = clone(device.recvRtpCapabilities);
	result.sendRtpCapabilities = clone(device.sendRtpCapabilities);
	result.canProduce = { audio: device.canProduce('audio'), video: device.canProduce('video') };
	result.produced = await produceAll(device, job.produce ?? []);

	const { results, accepted } = await consumeAll(device, job.consumers ?? []);
	result.consumers = results;

	if (accepted.length > 0) {
		try {
			const sdp = buildRemoteOffer(accepted);
			result.remoteOffer = { sdp, problems: checkRemoteOffer(sdp) };
		} catch (error) {
			result.remoteOffer = { sdp: null, problems: [`building the remote offer failed: ${describeError(error)}`] };
		}
	}

	return result;
}

async function main() {
	let job;
	try {
		job = JSON.parse(readStdin());
	} catch (error) {
		process.stderr.write(`invalid job JSON on stdin: ${describeError(error)}\n`);
		process.exitCode = 1;
		return;
	}

	try {
		const result = await run(job);
		process.stdout.write(`${JSON.stringify(result)}\n`);
	} catch (error) {
		process.stderr.write(`client check failed: ${error instanceof Error ? error.stack : String(error)}\n`);
		process.exitCode = 1;
	}
}

await main();
