// fabric-contract-api's decorators applied by hand, the way tsc's __decorate/__metadata helpers apply them: the
// contract twins (asset-transfer.js, loyalty.js) are plain JavaScript, with no TypeScript compiler here.
//
// tsc records each member's design:type / design:paramtypes, then calls the member's decorators bottom-up (so
// @Returns before @Transaction: that order shows in the metadata, whose transaction objects then start with
// "returns"), members in declaration order, then the class decorators bottom-up.
'use strict';

require('reflect-metadata'); // Reflect.defineMetadata/getMetadata, the store fabric-contract-api's decorators use

/** A decorated property: `@decorators... Name: type` (type the constructor tsc records: String, Number...). */
function property(cls, name, type, ...decorators) {
    Reflect.defineMetadata('design:type', type, cls.prototype, name);
    decorators.reverse().forEach((decorate) => decorate(cls.prototype, name));
}

/** A decorated method: `@decorators... Name(ctx: Context, ...params)`, paramTypes including the Context. */
function method(cls, name, paramTypes, ...decorators) {
    Reflect.defineMetadata('design:paramtypes', paramTypes, cls.prototype, name);
    decorators.reverse().forEach((decorate) => decorate(cls.prototype, name));
}

/** Class decorators, listed top to bottom as in the source. */
function decorateClass(cls, ...decorators) {
    decorators.reverse().forEach((decorate) => decorate(cls));
}

module.exports = {property, method, decorateClass};
